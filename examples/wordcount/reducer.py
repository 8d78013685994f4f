# Add up the counts every mapper sent (one pipe per mapper under /dev/in)
# and print "word count" lines, most frequent first. Python 2.7 and 3.
import collections
import os

totals = collections.Counter()
for name in sorted(os.listdir("/dev/in")):
    with open(os.path.join("/dev/in", name), "rb") as source:
        for line in source:
            word, n = line.decode("utf-8").rstrip("\n").split("\t")
            totals[word] += int(n)

for word, n in sorted(totals.items(), key=lambda item: (-item[1], item[0])):
    print("%s %d" % (word, n))
