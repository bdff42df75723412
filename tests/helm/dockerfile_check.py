"""Static checks of the Dockerfile at the repository's root (no image is
built here):

  - the stages build, prebuilt, runtime-base, sim and runtime; the base an
    ARG defaulting to Debian 12 (bookworm); BINARIES picking build or
    prebuilt
  - runtime-base installs no -dev package, compiler or build tool; the
    build stage does the compiling
  - runtime and sim end as a non-root user (numeric, not 0) with an
    ENTRYPOINT in exec form (a JSON array: no shell at run time)
  - runtime ships utpostd, utpost-inspect and utpostctl; sim utpost-sim
  - with --binaries: every shared library the host-built programs load
    belongs to a package runtime-base installs, or to one those depend
    on, or to a package of priority required (in every Debian image);
    every runtime package is a real Debian 12 package (known to dpkg)

  python3 dockerfile_check.py DOCKERFILE [--binaries PROGRAM ...]
"""

import argparse
import json
import re
import shlex
import subprocess
import sys

BUILD_TOOLS = {"g++", "gcc", "clang", "cmake", "ninja-build", "make",
               "pkg-config", "protobuf-compiler", "protobuf-compiler-grpc"}


def instructions(text):
    """(keyword, arguments) per instruction; continuations joined,
    comments dropped."""
    out = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        keyword, _, args = current.partition(" ")
        out.append((keyword.upper(), args.strip()))
        current = ""
    return out


def stages(text):
    """{stage name: [(keyword, args), ...]} and the global ARG defaults."""
    result, args, name = {}, {}, None
    for keyword, rest in instructions(text):
        if keyword == "FROM":
            m = re.match(r"(\S+)\s+AS\s+(\S+)$", rest, re.I)
            if not m:
                raise SystemExit(f"FROM without a stage name: {rest}")
            name = m.group(2)
            result[name] = [("FROM", m.group(1))]
        elif name is None:
            if keyword == "ARG":
                k, _, v = rest.partition("=")
                args[k] = v
        else:
            result[name].append((keyword, rest))
    return result, args


def apt_packages(stage):
    packages = []
    for keyword, rest in stage:
        if keyword != "RUN":
            continue
        for part in re.split(r"&&|;", rest):
            words = shlex.split(part)
            if "apt-get" in words and "install" in words:
                packages += [w for w in words[words.index("install") + 1:]
                             if not w.startswith("-")]
    return packages


def base_of(all_stages, name):
    """The stage a stage is FROM (a name here) or None for an image."""
    origin = all_stages[name][0][1]
    return origin if origin in all_stages else None


def check_dockerfile(text):
    problems = []
    all_stages, args = stages(text)
    for name in ("build", "prebuilt", "runtime-base", "sim", "runtime"):
        if name not in all_stages:
            problems.append(f"no stage {name}")
    if problems:
        return problems, all_stages
    if not re.match(r"debian:(bookworm|12)(\b|$)", args.get("BASE", "")):
        problems.append(f"ARG BASE defaults to {args.get('BASE')!r}, "
                        "not debian:bookworm")
    for name in ("build", "prebuilt", "runtime-base"):
        if all_stages[name][0][1] != "${BASE}":
            problems.append(f"stage {name} is not FROM ${{BASE}}")
    if args.get("BINARIES") not in ("build", "prebuilt"):
        problems.append("ARG BINARIES does not default to build or prebuilt")
    if "binaries" not in all_stages or all_stages["binaries"][0][1] != \
            "${BINARIES}":
        problems.append("no stage binaries FROM ${BINARIES}")
    if list(all_stages)[-1] != "runtime":
        problems.append("runtime is not the last stage (the default target)")

    runtime_packages = apt_packages(all_stages["runtime-base"])
    if not runtime_packages:
        problems.append("runtime-base installs no packages")
    for p in runtime_packages:
        if p.endswith("-dev") or p in BUILD_TOOLS:
            problems.append(f"runtime-base installs {p}")
    if not any(p.endswith("-dev") for p in apt_packages(all_stages["build"])):
        problems.append("the build stage installs no -dev packages")

    ships = {"runtime": ["utpostd", "utpost-inspect", "utpostctl"],
             "sim": ["utpost-sim"]}
    for name, programs in ships.items():
        stage = all_stages[name]
        if base_of(all_stages, name) != "runtime-base":
            problems.append(f"stage {name} is not FROM runtime-base")
        users = [rest for keyword, rest in stage if keyword == "USER"]
        if not users:
            problems.append(f"stage {name} sets no USER")
        else:
            user = users[-1].split(":")[0]
            if not user.isdigit() or int(user) == 0:
                problems.append(f"stage {name}: USER {users[-1]} is not a "
                                "numeric non-root user (runAsNonRoot needs "
                                "a number)")
        entry = [rest for keyword, rest in stage if keyword == "ENTRYPOINT"]
        if not entry:
            problems.append(f"stage {name} has no ENTRYPOINT")
        else:
            try:
                exec_form = isinstance(json.loads(entry[-1]), list)
            except json.JSONDecodeError:
                exec_form = False
            if not exec_form:
                problems.append(f"stage {name}: ENTRYPOINT is not in exec "
                                "form")
        copied = " ".join(rest for keyword, rest in stage
                          if keyword == "COPY" and "--from=binaries" in rest)
        for program in programs:
            if not re.search(rf"/{re.escape(program)}\b", copied):
                problems.append(f"stage {name} does not ship {program}")
    return problems, all_stages


def dpkg_query(args):
    p = subprocess.run(["dpkg-query"] + args, capture_output=True,
                       text=True)
    return p.returncode, p.stdout


def installed_closure(packages):
    """The packages and, recursively, what they depend on (Depends and
    Pre-Depends, every alternative), from dpkg's list of installed
    packages: what installing them in an image brings along."""
    _, out = dpkg_query(["-W", "-f=${Package}\t${Provides}\t${Depends}, "
                         "${Pre-Depends}\n"])
    depends, providers = {}, {}
    for line in out.splitlines():
        name, provides, deps = (line.split("\t") + ["", ""])[:3]
        depends[name] = [re.split(r"[\s:(]", d.strip(), 1)[0]
                         for d in re.split(r"[,|]", deps) if d.strip()]
        for virtual in re.split(r",", provides):
            if virtual.strip():
                providers.setdefault(
                    re.split(r"[\s(]", virtual.strip(), 1)[0], []).append(name)
    seen, todo = set(), list(packages)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo += depends.get(p, []) + providers.get(p, [])
    return seen


def check_libraries(binaries, runtime_packages):
    problems = []
    known = subprocess.run(["dpkg-query", "-W", "-f=${Package}\n"] +
                           runtime_packages, capture_output=True,
                           text=True).stdout.split()
    for p in runtime_packages:
        if p not in known:
            problems.append(f"runtime package {p} is not a Debian 12 "
                            "package here (dpkg-query -W)")
    allowed = installed_closure(runtime_packages)
    libraries = set()
    for binary in binaries:
        out = subprocess.run(["ldd", binary], capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            m = re.search(r"=>\s+(/\S+)", line)
            if m:
                libraries.add(m.group(1))
            elif "not found" in line:
                problems.append(f"{binary}: {line.strip()}")
    # One dpkg -S for all (a call per library takes a minute on a busy
    # machine); with usrmerge /lib/... and /usr/lib/... are one file.
    def other_form(lib):
        if lib.startswith("/usr/lib/"):
            return lib[len("/usr"):]
        return "/usr" + lib
    candidates = sorted(libraries | {other_form(l) for l in libraries})
    owners = {}
    out = subprocess.run(["dpkg", "-S"] + candidates, capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        package, _, path = line.partition(": ")
        owners[path.strip()] = package.split(":")[0]
    for lib in sorted(libraries):
        package = owners.get(lib) or owners.get(other_form(lib))
        if not package:
            problems.append(f"{lib}: no Debian package owns it")
            continue
        if package in allowed:
            continue
        _, priority = dpkg_query(["-W", "-f=${Priority}", package])
        if priority != "required":
            problems.append(f"{lib} ({package}) is loaded but runtime-base "
                            "does not install its package")
    print(f"{len(libraries)} shared libraries of {len(binaries)} programs, "
          "checked against the runtime packages")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("dockerfile")
    ap.add_argument("--binaries", nargs="*", default=[])
    a = ap.parse_args()
    with open(a.dockerfile) as f:
        problems, all_stages = check_dockerfile(f.read())
    if not problems and a.binaries:
        problems += check_libraries(
            a.binaries, apt_packages(all_stages["runtime-base"]))
    for p in problems:
        print(p)
    if problems:
        print(f"Dockerfile: {len(problems)} problem(s)")
        return 1
    print("Dockerfile: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
