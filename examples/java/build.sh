#!/bin/sh
# Builds the Java example client into OUT (default ./utpost-java) with
# Debian's packages only, no Maven: protoc with grpc_java_plugin
# (protobuf-compiler, protobuf-compiler-grpc-java-plugin) generates the
# stubs, javac (default-jdk-headless) compiles them and the client against
# the jars of libgrpc-java, libprotobuf-java, libguava-java,
# libperfmark-java, libnetty-java, libnetty-tcnative-java (with
# libnetty-tcnative-jni) and libgeronimo-annotation-1.3-spec-java under
# /usr/share/java. Writes OUT/run, which starts the client with that class
# path.
#   examples/java/build.sh [OUT]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
proto="$here/../../proto"
out=${1:-utpost-java}
jars=/usr/share/java
# grpc-java's API, core and Netty transport, protobuf, and what they load
# at run time. TLS goes through OpenSSL (netty-tcnative): Debian's Netty
# leaves out the ALPN support for the JDK's own TLS that gRPC's HTTP/2
# needs ("JDK provider does not support ALPN protocol").
cp=""
for j in grpc-api grpc-context grpc-core grpc-stub grpc-protobuf \
  grpc-protobuf-lite grpc-netty protobuf guava perfmark-api \
  netty-buffer netty-codec netty-codec-http netty-codec-http2 \
  netty-codec-socks netty-common netty-handler netty-handler-proxy \
  netty-resolver netty-transport netty-tcnative; do
  [ -f "$jars/$j.jar" ] || { echo "missing $jars/$j.jar (scripts/install-deps.sh)" >&2; exit 1; }
  cp="$cp${cp:+:}$jars/$j.jar"
done
rm -rf "$out/gen" "$out/classes"
mkdir -p "$out/gen" "$out/classes"
protoc -I "$proto" --java_out="$out/gen" --grpc-java_out="$out/gen" \
  --plugin=protoc-gen-grpc-java="$(command -v grpc_java_plugin)" \
  "$proto/utpost/v1/letter.proto" "$proto/utpost/v1/audit.proto"
find "$out/gen" -name '*.java' > "$out/sources.txt"
echo "$here/src/UtpostClient.java" >> "$out/sources.txt"
# The generated stubs carry javax.annotation.Generated, which the JDK no
# longer ships (libgeronimo-annotation-1.3-spec-java has it); only javac
# needs it.
javac -nowarn -encoding UTF-8 -d "$out/classes" \
  -cp "$cp:$jars/geronimo-annotation-1.3-spec.jar" @"$out/sources.txt"
# Netty looks for the JNI library as libnetty_tcnative.so, and the library
# checks that its own file has that name (a symbolic link is not enough);
# Debian ships it as libnetty-tcnative.so. A copy under the right name:
tcnative=$(ls /usr/lib/*/jni/libnetty-tcnative.so 2>/dev/null | head -1)
[ -n "$tcnative" ] || { echo "missing libnetty-tcnative.so (libnetty-tcnative-jni)" >&2; exit 1; }
mkdir -p "$out/native"
cp "$tcnative" "$out/native/libnetty_tcnative.so"
abs_out=$(cd "$out" && pwd)
cat > "$out/run" <<RUN
#!/bin/sh
exec java -Djava.library.path="$abs_out/native" -cp "$abs_out/classes:$cp" UtpostClient "\$@"
RUN
chmod +x "$out/run"
