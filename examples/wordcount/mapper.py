# Count the words of /dev/input and send "word<TAB>count" lines to the
# reducer through /dev/out/reducer. Python 2.7 and 3.
import collections
import re

counts = collections.Counter()
with open("/dev/input", "rb") as source:
    for line in source:
        for word in re.findall(r"[a-z0-9']+", line.decode("utf-8").lower()):
            counts[word] += 1

with open("/dev/out/reducer", "wb") as sink:
    for word, n in sorted(counts.items()):
        sink.write(("%s\t%d\n" % (word, n)).encode("utf-8"))
