"""Run a command on a fresh pseudo-terminal (its controlling terminal),
answer a prompt, and report what the terminal showed.

  pty_run.py PROMPT ANSWER -- COMMAND...

When PROMPT appears on the terminal, ANSWER is typed: a line of text, or
"^C" for an interrupt character. Prints one JSON document: "output" (all
the terminal showed, stdout and stderr alike), "code" (the exit status, or
128 + the signal), "echo" (whether the terminal echoes after the command
ended: its settings restored).
"""
import fcntl
import json
import os
import select
import subprocess
import sys
import termios
import time


def main():
    prompt, answer = sys.argv[1].encode(), sys.argv[2]
    command = sys.argv[4:]
    master, slave = os.openpty()

    def child_setup():
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(command, stdin=slave, stdout=slave,
                            stderr=slave, preexec_fn=child_setup,
                            close_fds=True)
    seen = b""
    answered = False
    deadline = time.time() + 60
    while time.time() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 4096)
            except OSError:
                data = b""
            if not data and proc.poll() is not None:
                break
            seen += data
        elif proc.poll() is not None:
            break
        if not answered and prompt in seen:
            time.sleep(0.3)      # let the prompt turn echo off
            if answer == "^C":
                os.write(master, termios.tcgetattr(slave)[6][termios.VINTR])
            else:
                os.write(master, answer.encode() + b"\n")
            answered = True
    code = proc.wait(timeout=30)
    echo = bool(termios.tcgetattr(slave)[3] & termios.ECHO)
    os.close(master)
    os.close(slave)
    print(json.dumps({"output": seen.decode("utf-8", "replace"),
                      "code": code if code >= 0 else 128 - code,
                      "echo": echo}))


main()
