#!/bin/sh
# Runs on ZeroCloud: what it prints is the job's output.
echo "Hello from $(uname -s) with arguments: $*"
