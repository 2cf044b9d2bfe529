#!/usr/bin/python3
"""The Kubernetes manifests in deploy/kubernetes (tests/CMakeLists.txt runs this).

    kubernetes_manifests_test.py KUSTOMIZE_DIR [SCHEDULER_BIN WORKER_BIN]

Renders KUSTOMIZE_DIR with `kubectl kustomize` (offline) and checks what a
cluster would get: the scheduler Deployment and its Service (8786, and 8787
for the dashboard) wired to each other, CPU and GPU worker Deployments that
find the scheduler by the Service's name and port, requests and limits,
readiness probes on /health at the port the daemon serves it on, the
Secret's files where the daemons are told to read them, and, given the
built binaries, that every option in the containers' arguments is one the
daemon's --help lists. Exits 77 (ctest: skipped) without kubectl or PyYAML.
"""
import os
import re
import shutil
import subprocess
import sys

SKIP = 77

failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message, file=sys.stderr)


def flag_values(args, flag):
    """Values of --flag=VALUE or --flag VALUE in an argument list."""
    out = []
    for i, arg in enumerate(args):
        if arg.startswith(flag + "="):
            out.append(arg.split("=", 1)[1])
        elif arg == flag and i + 1 < len(args):
            out.append(args[i + 1])
    return out


def one_flag(args, flag, where):
    values = flag_values(args, flag)
    if len(values) != 1:
        fail(f"{where}: expected one {flag}, found {values}")
        return None
    return values[0]


def port_of_address(address):
    """The port of a daemon's HOST:PORT / :PORT address."""
    match = re.fullmatch(r"(.*):(\d+)", address or "")
    return int(match.group(2)) if match else None


def container_port(container, port):
    """A probe's or Service's port (number or name) as a number in `container`."""
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return p["containerPort"]
    return None


def only_container(deployment):
    containers = deployment["spec"]["template"]["spec"]["containers"]
    if len(containers) != 1:
        fail(f"Deployment {deployment['metadata']['name']}: expected one container, found {len(containers)}")
    return containers[0]


def check_deployment_basics(deployment, image):
    name = deployment["metadata"]["name"]
    spec = deployment["spec"]
    pod = spec["template"]
    selector = spec["selector"]["matchLabels"]
    labels = pod["metadata"].get("labels", {})
    if any(labels.get(k) != v for k, v in selector.items()):
        fail(f"Deployment {name}: selector {selector} does not match its pod labels {labels}")
    container = only_container(deployment)
    if container.get("image") != image:
        fail(f"Deployment {name}: image {container.get('image')!r}, expected the placeholder {image!r}")
    volumes = {v["name"] for v in pod["spec"].get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        if mount["name"] not in volumes:
            fail(f"Deployment {name}: volumeMount {mount['name']} has no volume")
    # $(VAR) in the arguments must be defined in env, or Kubernetes passes it literally.
    defined = {e["name"] for e in container.get("env", [])}
    for arg in container.get("args", []):
        for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", arg):
            if var not in defined:
                fail(f"Deployment {name}: argument {arg!r} uses $({var}), which env does not define")
    security = pod["spec"].get("securityContext", {})
    if security.get("runAsNonRoot") is not True:
        fail(f"Deployment {name}: pods must run as non-root (securityContext.runAsNonRoot)")
    return container


def check_resources(name, container, want_gpu):
    resources = container.get("resources", {})
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in resources.get(kind, {}):
                fail(f"Deployment {name}: no {kind}.{resource}")
    has_gpu = "nvidia.com/gpu" in resources.get("limits", {})
    if has_gpu != want_gpu:
        fail(f"Deployment {name}: limits nvidia.com/gpu {'missing' if want_gpu else 'present'}")


def check_probe(name, container, dashboard_port):
    probe = container.get("readinessProbe", {}).get("httpGet")
    if not probe:
        fail(f"Deployment {name}: no readinessProbe.httpGet")
        return
    if probe.get("path") != "/health":
        fail(f"Deployment {name}: readiness probe asks {probe.get('path')}, not /health")
    port = container_port(container, probe.get("port"))
    if dashboard_port is None or port != dashboard_port:
        fail(f"Deployment {name}: readiness probe on port {port}, but the daemon serves /health on {dashboard_port}")
    declared = [p["containerPort"] for p in container.get("ports", [])]
    if port not in declared:
        fail(f"Deployment {name}: probe port {port} is not among the container's ports {declared}")


def check_secret_files(name, deployment, container, secret):
    """Each file given to --tls-*/--auth-token-file is a key of the Secret, where it is mounted."""
    pod_spec = deployment["spec"]["template"]["spec"]
    secret_volumes = {v["name"] for v in pod_spec.get("volumes", [])
                      if v.get("secret", {}).get("secretName") == secret["metadata"]["name"]}
    mounts = [m["mountPath"].rstrip("/") for m in container.get("volumeMounts", []) if m["name"] in secret_volumes]
    keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    args = container.get("args", [])
    for flag in ("--tls-cert", "--tls-key", "--tls-ca", "--auth-token-file"):
        path = one_flag(args, flag, f"Deployment {name}")
        if path is None:
            continue
        directory, _, file = path.rpartition("/")
        if directory not in mounts or file not in keys:
            fail(f"Deployment {name}: {flag} {path} is not a key of Secret {secret['metadata']['name']} "
                 f"(keys {sorted(keys)}) under its mount {mounts}")


def check_writable_dir(name, deployment, container, path):
    mounts = [m["mountPath"].rstrip("/") for m in container.get("volumeMounts", []) if not m.get("readOnly")]
    if path is None or not any(path == m or path.startswith(m + "/") for m in mounts):
        fail(f"Deployment {name}: {path} is on no writable volume (readOnlyRootFilesystem); mounts {mounts}")


def check_options(name, container, binary):
    if binary is None:
        return
    help_text = subprocess.run([binary, "--help"], capture_output=True, text=True, check=True).stdout
    known = set(re.findall(r"--[a-z][a-z0-9-]*", help_text))
    for arg in container.get("args", []):
        if arg.startswith("--"):
            option = arg.split("=", 1)[0]
            if option not in known:
                fail(f"Deployment {name}: {option} is not an option of {binary} (see its --help)")
    if container.get("command") != [f"/usr/local/bin/{binary.rsplit('/', 1)[-1]}"]:
        fail(f"Deployment {name}: command {container.get('command')} is not the installed {binary.rsplit('/', 1)[-1]}")


def main(argv):
    if len(argv) not in (2, 4):
        print(__doc__, file=sys.stderr)
        return 2
    directory = argv[1]
    scheduler_bin, worker_bin = (argv[2], argv[3]) if len(argv) == 4 else (None, None)
    for binary in (scheduler_bin, worker_bin):
        if binary is not None and not os.access(binary, os.X_OK):
            print(f"FAIL: {binary} is not an executable (build dtask-scheduler and dtask-worker first)",
                  file=sys.stderr)
            return 1
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        print("SKIP: kubectl not found (kubectl kustomize renders the manifests)")
        return SKIP
    try:
        import yaml
    except ImportError:
        print("SKIP: /usr/bin/python3 cannot import yaml (Debian package python3-yaml)")
        return SKIP

    print(f"+ kubectl kustomize {directory}")
    rendered = subprocess.run([kubectl, "kustomize", directory], capture_output=True, text=True)
    if rendered.returncode != 0:
        print(rendered.stderr, file=sys.stderr)
        fail(f"kubectl kustomize {directory} exited {rendered.returncode}")
        return 1
    documents = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    objects = {(d["kind"], d["metadata"]["name"]): d for d in documents}
    print("rendered: " + ", ".join(f"{kind}/{name}" for kind, name in objects))

    expected = [("Secret", "dtask-secrets"), ("Service", "dtask-scheduler"), ("Deployment", "dtask-scheduler"),
                ("Deployment", "dtask-worker"), ("Deployment", "dtask-worker-gpu")]
    for key in expected:
        if key not in objects:
            fail(f"no {key[0]} {key[1]} in the rendered manifests")
    if failures:
        return 1
    image = "dtask:latest"
    secret = objects[("Secret", "dtask-secrets")]
    service = objects[("Service", "dtask-scheduler")]
    scheduler = objects[("Deployment", "dtask-scheduler")]

    # The scheduler: its ports, dashboard on every interface, journal on a volume.
    container = check_deployment_basics(scheduler, image)
    args = container.get("args", [])
    scheduler_port = int(one_flag(args, "--port", "Deployment dtask-scheduler") or 0)
    dashboard = one_flag(args, "--dashboard-address", "Deployment dtask-scheduler")
    dashboard_port = port_of_address(dashboard)
    if scheduler_port != 8786 or dashboard_port != 8787:
        fail(f"Deployment dtask-scheduler: --port {scheduler_port} and --dashboard-address {dashboard}, "
             "expected 8786 and :8787")
    if dashboard is not None and not (dashboard.startswith(":") or dashboard.startswith("0.0.0.0:")):
        fail(f"Deployment dtask-scheduler: --dashboard-address {dashboard} is not on every interface, "
             "so neither the Service nor the probe reaches it")
    if scheduler["spec"].get("replicas", 1) != 1:
        fail("Deployment dtask-scheduler: a cluster has one scheduler (replicas 1)")
    check_writable_dir("dtask-scheduler", scheduler, container,
                       one_flag(args, "--journal", "Deployment dtask-scheduler"))
    check_resources("dtask-scheduler", container, want_gpu=False)
    check_probe("dtask-scheduler", container, dashboard_port)
    check_secret_files("dtask-scheduler", scheduler, container, secret)
    check_options("dtask-scheduler", container, scheduler_bin)

    # The Service: 8786 and 8787 over TCP, to those container ports, selecting the scheduler pods only.
    pod_labels = scheduler["spec"]["template"]["metadata"]["labels"]
    selector = service["spec"].get("selector", {})
    if not selector or any(pod_labels.get(k) != v for k, v in selector.items()):
        fail(f"Service dtask-scheduler: selector {selector} does not select the scheduler pods {pod_labels}")
    service_ports = {}
    for p in service["spec"]["ports"]:
        target = container_port(container, p.get("targetPort", p["port"]))
        service_ports[p["port"]] = target
        if p.get("protocol", "TCP") != "TCP":
            fail(f"Service dtask-scheduler: port {p['port']} is not TCP")
    for port, want in ((8786, scheduler_port), (8787, dashboard_port)):
        if service_ports.get(port) != want:
            fail(f"Service dtask-scheduler: port {port} goes to container port {service_ports.get(port)}, "
                 f"expected {want}")

    # Workers: the scheduler by the Service's name, requests and limits, a GPU variant.
    for name, want_gpu in (("dtask-worker", False), ("dtask-worker-gpu", True)):
        worker = objects[("Deployment", name)]
        labels = worker["spec"]["template"]["metadata"]["labels"]
        if all(labels.get(k) == v for k, v in selector.items()):
            fail(f"Service dtask-scheduler selects the pods of {name} too")
        container = check_deployment_basics(worker, image)
        args = container.get("args", [])
        positional = [a for a in args if not a.startswith("-")]
        want_address = f"tls://{service['metadata']['name']}:8786"
        if not args or args[0] != want_address:
            fail(f"Deployment {name}: first argument {args[:1]}, expected the scheduler Service {want_address}")
        if len(positional) != 1:
            fail(f"Deployment {name}: expected one positional argument (the scheduler), found {positional}")
        check_resources(name, container, want_gpu)
        resources = flag_values(args, "--resources")
        if want_gpu and resources != ["GPU=1"]:
            fail(f"Deployment {name}: --resources {resources}, expected GPU=1 so GPU tasks land here")
        if not want_gpu and resources:
            fail(f"Deployment {name}: a CPU worker advertises --resources {resources}")
        check_probe(name, container, port_of_address(one_flag(args, "--dashboard-address", f"Deployment {name}")))
        check_writable_dir(name, worker, container, one_flag(args, "--local-directory", f"Deployment {name}"))
        if one_flag(args, "--memory-limit", f"Deployment {name}") in (None, "auto"):
            fail(f"Deployment {name}: --memory-limit must follow the container's limit (auto reads the node's)")
        grace = worker["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
        if grace < 45:
            fail(f"Deployment {name}: terminationGracePeriodSeconds {grace} is shorter than a retire (up to 40 s)")
        check_secret_files(name, worker, container, secret)
        check_options(name, container, worker_bin)

    for key in ("token", "tls.crt", "tls.key", "ca.crt"):
        if key not in secret.get("stringData", {}) and key not in secret.get("data", {}):
            fail(f"Secret dtask-secrets: no {key}")

    if failures:
        print(f"kubernetes_manifests_test: {len(failures)} failure(s)", file=sys.stderr)
        return 1
    print(f"kubernetes_manifests_test: {len(objects)} objects passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
