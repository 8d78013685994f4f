#!/usr/bin/python3
"""The original zpm's execution summary, for bench/summary to compare with.

The same algorithm as the Python zpm's ``_get_exec_table_data`` and
``_get_exec_table`` (DESIGN.md section 7): the X-Nexe-System, -Status and
-Retcode values split on ',' as they are, the X-Nexe-Cdr-Line split on ','
with each item stripped, its first item the total time, then per node a
node time and a stats item split on whitespace; rows stop at the shortest
list; the table is a prettytable.PrettyTable with default options.

Usage: summary_reference.py HEADERS_FILE [TIMES_FILE]

HEADERS_FILE holds one "Name: value" header per line (UTF-8). The summary
goes to stdout exactly as the original printed it; the seconds spent on
parsing and rendering (CPU time, time.process_time, as zpm's side
measures with os.clock; not counting reading the file) are appended to TIMES_FILE
when given. Run it with /usr/bin/python3 and Debian's python3-prettytable.
"""
import sys
import time

import prettytable

EXEC_TABLE_HEADER = [
    'Node', 'Status', 'Retcode', 'NodeT', 'SysT', 'UserT', 'DiskReads',
    'DiskBytesR', 'DiskWrites', 'DiskBytesW', 'NetworkReads',
    'NetworkBytesR', 'NetworkWrites', 'NetworkBytesW',
]


def exec_table_data(headers):
    """Return (total_time, rows) from lower-cased response headers."""
    names = iter(headers['x-nexe-system'].split(','))
    statuses = iter(headers['x-nexe-status'].split(','))
    retcodes = iter(headers['x-nexe-retcode'].split(','))
    items = [item.strip() for item in headers['x-nexe-cdr-line'].split(',')]
    total_time = items.pop(0)
    items = iter(items)

    rows = []
    while True:
        try:
            name = next(names)
            status = next(statuses)
            retcode = next(retcodes)
            node_time = next(items)
            stats = next(items).split()
        except StopIteration:
            break
        rows.append([name, status, retcode, node_time] + stats)
    return total_time, rows


def exec_table(headers):
    """Return (total_time, prettytable.PrettyTable)."""
    total_time, rows = exec_table_data(headers)
    table = prettytable.PrettyTable(EXEC_TABLE_HEADER)
    for row in rows:
        table.add_row(row)
    return total_time, table


def summary(headers):
    """The text the original zpm printed for ``execute --summary``."""
    total_time, table = exec_table(headers)
    return 'Execution summary:\n%s\nTotal time: %s\n' % (table, total_time)


def read_headers(path):
    headers = {}
    with open(path, encoding='utf-8', newline='\n') as f:
        for line in f:
            name, _, value = line.rstrip('\n').partition(': ')
            headers[name.lower()] = value
    return headers


def main(argv):
    headers = read_headers(argv[1])
    start = time.process_time()
    text = summary(headers)
    sys.stdout.write(text)
    sys.stdout.flush()
    elapsed = time.process_time() - start
    if len(argv) > 2:
        with open(argv[2], 'a') as f:
            f.write('%.6f\n' % elapsed)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
