# Sourced by the scripts: puts the Swift toolchain on PATH when it is installed in /opt/swift.
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi

# Release builds for everything numeric. Cross-module optimisation lets the compiler specialise the
# generic tensor and autograd code (generic over Float and Double) where the other modules call it;
# without it the runtime looks up generic metadata on every operation and curvature products of a
# small MLP take twice as long. Every script builds with the same flags so that .build is reused.
SWIFT_RELEASE_FLAGS=(-c release -Xswiftc -cross-module-optimization)
