# Runs on ZeroCloud: what it prints is the job's output. `zpm bundle`
# puts it into the zapp (`bundling` in zapp.yaml) and the group's `args`
# in `execution` run it.
import sys

print("Hello from @name@!" + "".join(" " + a for a in sys.argv[1:]))
