"""zerocloud_dev: a ZeroCloud-compatible execution middleware for Swift
that runs job nodes as sandboxed (bubblewrap) host processes.

paste.filter_factory = zerocloud_dev:filter_factory
"""


def filter_factory(global_conf, **local_conf):
    from .middleware import filter_factory as ff
    return ff(global_conf, **local_conf)
