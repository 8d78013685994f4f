# Prints "<GREETING>, <arguments>!" -- works with Python 2.7 and 3.
import os
import sys

greeting = os.environ.get("GREETING", "Hello")
name = " ".join(sys.argv[1:]) or "world"
sys.stdout.write("%s, %s!\n" % (greeting, name))
