#!/bin/sh
# Prints the machine architecture as `uname -m` does (x86_64, aarch64): the one fact that
# tells whether the host pulled the right platform of the image.
echo "hello from $(uname -m)"
echo "version ${APP_VERSION:-unknown}"
