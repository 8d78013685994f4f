"""Job chaining (ZeroCloud's Chaining.md).

A job whose response carries X-Zerovm-Execute and Content-Type
application/json (a message/http or message/cgi channel that wrote those
headers) asks for another job: its body, at most max_job_size bytes, is run
next, as a POSTed job of the same account, with the same request-based CGI
variables. The chain ends with a response that does not ask for a job, a
body larger than max_job_size (returned as it is), or when chain_timeout
seconds have passed since the first job started: then the last response is
the answer. X-Chain-Total-Time is the time of all jobs of the chain.

The request's payload goes to the first job that has a path-less readable
device (stdin, input or script); the jobs after it get an empty one (a
partly read payload is not handed on).
"""
import os
import time

from . import forms

CHAIN_TIMEOUT = 20.0
PAYLOAD_DEVICES = ('stdin', 'input', 'script')


def wants_chain(resp):
    """Whether a job's response is the next job of a chain."""
    return bool((resp.headers.get('X-Zerovm-Execute') or '').strip()) and \
        forms.ctype_of(resp.headers.get('Content-Type')) == 'application/json'


def takes_payload(job):
    """Whether some group of the job attaches the request payload."""
    if not isinstance(job, list):
        return False
    for g in job:
        if not isinstance(g, dict):
            continue
        for d in (g.get('devices') or []) + (g.get('file_list') or []):
            if not isinstance(d, dict):
                continue
            name = d.get('name', d.get('device'))
            if name in PAYLOAD_DEVICES and not d.get('path'):
                return True
    return False


def read_upto(resp, limit):
    """(body, None) if the response's body is at most limit bytes, else
    (what was read, an iterator over the rest)."""
    it = iter(resp.app_iter if resp.app_iter is not None else [resp.body])
    data = b''
    for chunk in it:
        data += chunk
        if len(data) > limit:
            return data, it
    close = getattr(resp.app_iter, 'close', None)
    if close:
        close()
    return data, None


class _Rest(object):
    def __init__(self, head, it, closer):
        self.head, self.it, self.closer = head, it, closer

    def __iter__(self):
        yield self.head
        for chunk in self.it:
            yield chunk

    def close(self):
        if self.closer:
            self.closer()


def run_chain(run, req, account, work, jobreq, max_job,
              timeout=CHAIN_TIMEOUT, logger=None, clock=time.time):
    """Run jobreq, then every job its responses ask for. run(req, account,
    work, jobreq) -> swob Response (the middleware's run_job); each job gets
    a directory of its own under work."""
    total = 0.0
    k = 0
    while True:
        jwork = os.path.join(work, 'job%d' % k)
        os.mkdir(jwork)
        os.chmod(jwork, 0o755)
        t0 = clock()
        resp = run(req, account, jwork, jobreq)
        total += clock() - t0
        if not wants_chain(resp):
            break
        if total >= timeout:
            if logger:
                logger.info('zerocloud_dev: chain stopped after %d jobs, '
                            '%.3f s (chain_timeout %g s)', k + 1, total,
                            timeout)
            resp.headers['X-Chain-Stopped'] = \
                'chain_timeout %g s reached after %d jobs' % (timeout, k + 1)
            break
        body, rest = read_upto(resp, max_job)
        if rest is not None:
            # too large to be a job: the client gets it as it is
            cl = resp.headers.get('Content-Length')
            resp.app_iter = _Rest(body, rest,
                                  getattr(resp.app_iter, 'close', None))
            if cl is not None:
                resp.headers['Content-Length'] = cl
            break
        job = forms.load_json(body, 'the job that job %d of the chain '
                              'answered' % (k + 1))
        payload = jobreq.payload
        if payload is not None and takes_payload(jobreq.job):
            payload = os.path.join(work, 'payload-after-%d' % k)
            open(payload, 'wb').close()
        jobreq = forms.JobRequest(
            job=job, payload=payload, payload_type=jobreq.payload_type,
            cgi=jobreq.cgi, source=jobreq.source, kind='chain')
        k += 1
    resp.headers['X-Chain-Total-Time'] = '%.3f' % total
    return resp
