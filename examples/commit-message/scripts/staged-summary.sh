#!/bin/sh
# Summarise what is staged for the next commit.
set -eu
echo "Staged files:"
git diff --cached --name-status
echo
echo "Stat:"
git diff --cached --stat
