"""The container userland of the emulator: environment, files, DNS and the shell, checked against
the kubelet's rules and the outputs kubernetes.io's tasks show (typed into ``userland.run`` as
``kubectl exec`` would pass them)."""
from __future__ import annotations

import base64
import io

import pytest

from labkit import kubesim
from labkit.kubesim import resources, userland

PODS = resources.get("/pods")


@pytest.fixture(scope="module")
def sim():
    handle = kubesim.start(seed=0, realtime=False)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def core(sim):
    from kubernetes import client, config
    api_client = config.new_client_from_config(sim.kubeconfig)
    yield client.CoreV1Api(api_client)
    api_client.close()


def pod(sim, name: str, ns: str = "default") -> dict:
    return sim.store.get(PODS, ns, name)


def make_pod(sim, core, name: str, containers: list[dict], ns: str = "default", wait: float = 10, **spec) -> dict:
    core.create_namespaced_pod(ns, {"metadata": {"name": name, **spec.pop("metadata", {})},
                                    "spec": {"containers": containers, **spec}})
    sim.advance(wait)
    return pod(sim, name, ns)


def sh(sim, name: str, *argv: str, container: str | None = None, stdin: bytes | None = None, tty: bool = False,
       ns: str = "default") -> tuple[int, str, str]:
    p = pod(sim, name, ns)
    view = userland.container_view(sim.store, p, container or p["spec"]["containers"][0]["name"], sim.store.clock.time())
    out, err = [], []
    code = userland.run(view, list(argv), io.BytesIO(stdin) if stdin is not None else None, out.append, err.append, tty=tty)
    return code, b"".join(out).decode(), b"".join(err).decode()


BUSY = {"name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"]}


# ---- environment -----------------------------------------------------------------------------
def test_define_environment_variables_example_env_order_and_service_variables(sim, core):
    core.create_namespaced_service("default", {"metadata": {"name": "early-web"},
                                               "spec": {"selector": {"app": "x"}, "ports": [{"name": "http", "port": 80}]}})
    make_pod(sim, core, "envar-demo", [{"name": "envar-demo-container", "image": "busybox:1.36", "command": ["sleep", "3600"],
                                        "env": [{"name": "DEMO_GREETING", "value": "Hello from the environment"},
                                                {"name": "DEMO_FAREWELL", "value": "Such a sweet sorrow"}]}],
             metadata={"labels": {"purpose": "demonstrate-envars"}})
    core.create_namespaced_service("default", {"metadata": {"name": "late-web"}, "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}})
    code, out, _ = sh(sim, "envar-demo", "printenv")
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert lines[1] == "HOSTNAME=envar-demo"
    assert lines[2:4] == ["DEMO_GREETING=Hello from the environment", "DEMO_FAREWELL=Such a sweet sorrow"]
    assert lines[-1] == "HOME=/root"
    ip = core.read_namespaced_service("early-web", "default").spec.cluster_ip
    for line in ["EARLY_WEB_SERVICE_HOST=" + ip, "EARLY_WEB_SERVICE_PORT=80", "EARLY_WEB_SERVICE_PORT_HTTP=80",
                 f"EARLY_WEB_PORT=tcp://{ip}:80", f"EARLY_WEB_PORT_80_TCP=tcp://{ip}:80", "EARLY_WEB_PORT_80_TCP_PROTO=tcp",
                 "EARLY_WEB_PORT_80_TCP_PORT=80", f"EARLY_WEB_PORT_80_TCP_ADDR={ip}",
                 "KUBERNETES_SERVICE_HOST=10.96.0.1", "KUBERNETES_SERVICE_PORT=443", "KUBERNETES_SERVICE_PORT_HTTPS=443",
                 "KUBERNETES_PORT=tcp://10.96.0.1:443", "KUBERNETES_PORT_443_TCP_ADDR=10.96.0.1"]:
        assert line in lines, f"missing {line}"
    assert not any(x.startswith("LATE_WEB") for x in lines), "a Service created after the container started must not be in its env"
    assert sh(sim, "envar-demo", "printenv", "DEMO_GREETING") == (0, "Hello from the environment\n", "")
    assert sh(sim, "envar-demo", "sh", "-c", 'echo "$DEMO_GREETING $DEMO_FAREWELL"')[1] == "Hello from the environment Such a sweet sorrow\n"


def test_enable_service_links_false_keeps_only_the_kubernetes_service(sim, core):
    make_pod(sim, core, "nolinks", [BUSY], enableServiceLinks=False)
    env = userland.container_view(sim.store, pod(sim, "nolinks"), "c").env
    assert "KUBERNETES_SERVICE_HOST" in env and not any(k.startswith("EARLY_WEB") for k in env)


def test_dependent_environment_variables_example(sim, core):
    make_pod(sim, core, "dependent-envars-demo", [{
        "name": "dependent-envars-demo", "image": "busybox:1.28", "command": ["sh", "-c"],
        "args": ["while true; do echo -en '\\n'; printf UNCHANGED_REFERENCE=$UNCHANGED_REFERENCE'\\n'; "
                 "printf SERVICE_ADDRESS=$SERVICE_ADDRESS'\\n';printf ESCAPED_REFERENCE=$ESCAPED_REFERENCE'\\n'; sleep 30; done;"],
        "env": [{"name": "SERVICE_PORT", "value": "80"}, {"name": "SERVICE_IP", "value": "172.17.0.1"},
                {"name": "UNCHANGED_REFERENCE", "value": "$(PROTOCOL)://$(SERVICE_IP):$(SERVICE_PORT)"},
                {"name": "PROTOCOL", "value": "https"},
                {"name": "SERVICE_ADDRESS", "value": "$(PROTOCOL)://$(SERVICE_IP):$(SERVICE_PORT)"},
                {"name": "ESCAPED_REFERENCE", "value": "$$(PROTOCOL)://$(SERVICE_IP):$(SERVICE_PORT)"}]}])
    code, out, _ = sh(sim, "dependent-envars-demo", "sh", "-c",
                      "printf UNCHANGED_REFERENCE=$UNCHANGED_REFERENCE'\\n'; printf SERVICE_ADDRESS=$SERVICE_ADDRESS'\\n';"
                      "printf ESCAPED_REFERENCE=$ESCAPED_REFERENCE'\\n'")
    assert (code, out) == (0, "UNCHANGED_REFERENCE=$(PROTOCOL)://172.17.0.1:80\nSERVICE_ADDRESS=https://172.17.0.1:80\n"
                              "ESCAPED_REFERENCE=$(PROTOCOL)://172.17.0.1:80\n")


def test_expansion_rules_of_the_kubelet():
    from labkit.kubesim.userland.environment import expand
    env = {"A": "1", "B": "x y"}
    assert expand("$(A)-$(B)", env) == "1-x y"
    assert expand("$$(A)", env) == "$(A)"
    assert expand("$(NOPE) $(A", env) == "$(NOPE) $(A"
    assert expand("$A $", env) == "$A $"


def test_command_and_args_are_expanded_from_configmap_env(sim, core):
    core.create_namespaced_config_map("default", {"metadata": {"name": "special-config"},
                                                  "data": {"SPECIAL_LEVEL": "very", "SPECIAL_TYPE": "charm"}})
    p = make_pod(sim, core, "dapi-test-pod", [{
        "name": "test-container", "image": "registry.k8s.io/busybox", "command": ["/bin/echo", "$(SPECIAL_LEVEL_KEY) $(SPECIAL_TYPE_KEY)"],
        "env": [{"name": "SPECIAL_LEVEL_KEY", "valueFrom": {"configMapKeyRef": {"name": "special-config", "key": "SPECIAL_LEVEL"}}},
                {"name": "SPECIAL_TYPE_KEY", "valueFrom": {"configMapKeyRef": {"name": "special-config", "key": "SPECIAL_TYPE"}}}]}],
        restartPolicy="Never")
    assert userland.expand_command(sim.store, p, "test-container") == ["/bin/echo", "very charm"]
    assert userland.container_view(sim.store, p, "test-container").command() == ["/bin/echo", "very charm"]


def test_pod_fields_and_resources_as_environment_variables(sim, core):
    p = make_pod(sim, core, "dapi-envars-fieldref", [{
        "name": "test-container", "image": "registry.k8s.io/busybox", "command": ["sh", "-c", "sleep 3600"],
        "resources": {"requests": {"memory": "32Mi", "cpu": "125m"}, "limits": {"memory": "64Mi", "cpu": "250m"}},
        "env": [{"name": "MY_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "MY_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "MY_POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "MY_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "MY_POD_SERVICE_ACCOUNT", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
                {"name": "MY_LABEL", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                {"name": "MY_CPU_REQUEST", "valueFrom": {"resourceFieldRef": {"containerName": "test-container",
                                                                             "resource": "requests.cpu", "divisor": "1m"}}},
                {"name": "MY_CPU_LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                {"name": "MY_MEM_REQUEST", "valueFrom": {"resourceFieldRef": {"resource": "requests.memory", "divisor": "1Mi"}}},
                {"name": "MY_MEM_LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}}]}],
        restartPolicy="Never", metadata={"labels": {"app": "dapi"}})
    code, out, _ = sh(sim, "dapi-envars-fieldref", "printenv", "MY_NODE_NAME", "MY_POD_NAME", "MY_POD_NAMESPACE", "MY_POD_IP",
                      "MY_POD_SERVICE_ACCOUNT", "MY_LABEL", "MY_CPU_REQUEST", "MY_CPU_LIMIT", "MY_MEM_REQUEST", "MY_MEM_LIMIT")
    assert code == 0
    assert out.splitlines() == [p["spec"]["nodeName"], "dapi-envars-fieldref", "default", p["status"]["podIP"], "default", "dapi",
                                "125", "1", "32", str(64 * 2 ** 20)]


def test_env_from_configmap_and_secret_with_prefix_and_invalid_keys(sim, core):
    core.create_namespaced_config_map("default", {"metadata": {"name": "envfrom-cm"},
                                                  "data": {"log_level": "INFO", "1bad": "x", "ok.key": "dot"}})
    core.create_namespaced_secret("default", {"metadata": {"name": "test-secret"},
                                              "data": {"username": base64.b64encode(b"my-app").decode(),
                                                       "password": base64.b64encode(b"39528$vdg7Jb").decode()}})
    p = make_pod(sim, core, "envfrom-secret", [{**BUSY, "envFrom": [{"configMapRef": {"name": "envfrom-cm"}, "prefix": "CM_"},
                                                                      {"configMapRef": {"name": "envfrom-cm"}},
                                                                      {"secretRef": {"name": "test-secret"}},
                                                                      {"configMapRef": {"name": "absent", "optional": True}}]}])
    env = userland.container_view(sim.store, p, "c").env
    assert env["CM_log_level"] == "INFO" and env["CM_1bad"] == "x" and env["ok.key"] == "dot" and "1bad" not in env
    code, out, _ = sh(sim, "envfrom-secret", "/bin/sh", "-c", 'echo "username: $username\\npassword: $password\\n"')
    assert out == "username: my-app\npassword: 39528$vdg7Jb\n\n"
    assert userland.env_warnings(sim.store, p, "c") == [
        "Keys [1bad] from the EnvFrom configMap default/envfrom-cm were skipped since they are considered invalid environment variable names."]


def test_env_errors_are_the_kubelets_create_container_config_errors(sim, core):
    def errs(container: dict) -> list[str]:
        fake = {"metadata": {"name": "x", "namespace": "default", "uid": "u"}, "spec": {"containers": [container]}}
        return userland.env_errors(sim.store, fake, container["name"])
    core.create_namespaced_config_map("default", {"metadata": {"name": "has-keys"}, "data": {"a": "1"}})
    ref = lambda **kw: {"name": "c", "image": "busybox", "env": [{"name": "V", "valueFrom": kw}]}  # noqa: E731
    assert errs(ref(configMapKeyRef={"name": "nothere", "key": "k"})) == ['configmap "nothere" not found']
    assert errs(ref(configMapKeyRef={"name": "has-keys", "key": "k"})) == ["couldn't find key k in ConfigMap default/has-keys"]
    assert errs(ref(configMapKeyRef={"name": "has-keys", "key": "k", "optional": True})) == []
    assert errs(ref(secretKeyRef={"name": "nope", "key": "k"})) == ['secret "nope" not found']
    assert errs(ref(secretKeyRef={"name": "test-secret", "key": "k"})) == ["couldn't find key k in Secret default/test-secret"]
    assert errs({"name": "c", "image": "busybox", "envFrom": [{"secretRef": {"name": "nope"}}]}) == ['secret "nope" not found']
    assert errs(ref(configMapKeyRef={"name": "has-keys", "key": "a"})) == []


# ---- files -----------------------------------------------------------------------------------
def test_configmap_volume_files_items_modes_and_read_only(sim, core):
    make_pod(sim, core, "cm-volume", [{**BUSY, "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/config"},
                                                                 {"name": "items", "mountPath": "/etc/items"}]}],
             volumes=[{"name": "config-volume", "configMap": {"name": "special-config", "defaultMode": 0o400}},
                      {"name": "items", "configMap": {"name": "special-config", "items": [{"key": "SPECIAL_LEVEL", "path": "keys"}]}}])
    assert sh(sim, "cm-volume", "ls", "/etc/config/") == (0, "SPECIAL_LEVEL\nSPECIAL_TYPE\n", "")
    assert sh(sim, "cm-volume", "cat", "/etc/items/keys") == (0, "very", "")
    assert sh(sim, "cm-volume", "ls", "/etc/items") == (0, "keys\n", "")
    assert sh(sim, "cm-volume", "sh", "-c", "ls -l /etc/config | grep TYPE")[1].startswith("-r--------")
    code, _, err = sh(sim, "cm-volume", "touch", "/etc/config/new")
    assert (code, err) == (1, "touch: /etc/config/new: Read-only file system\n")


def test_secret_volume_example(sim, core):
    make_pod(sim, core, "secret-test-pod", [{"name": "test-container", "image": "nginx", "volumeMounts": [
        {"name": "secret-volume", "mountPath": "/etc/secret-volume", "readOnly": True}]}],
        volumes=[{"name": "secret-volume", "secret": {"secretName": "test-secret"}}])
    assert sh(sim, "secret-test-pod", "ls", "/etc/secret-volume") == (0, "password\nusername\n", "")
    code, out, _ = sh(sim, "secret-test-pod", "bash", "-c", 'cd /etc/secret-volume; echo "$( cat username )"; echo "$( cat password )"')
    assert (code, out) == (0, "my-app\n39528$vdg7Jb\n")


def test_downward_api_volume_example(sim, core):
    make_pod(sim, core, "kubernetes-downwardapi-volume-example", [{
        "name": "client-container", "image": "registry.k8s.io/busybox:1.27.2", "command": ["sh", "-c", "sleep 3600"],
        "volumeMounts": [{"name": "podinfo", "mountPath": "/etc/podinfo"}]}],
        metadata={"labels": {"zone": "us-est-coast", "cluster": "test-cluster1", "rack": "rack-22"},
                  "annotations": {"build": "two", "builder": "john-doe"}},
        volumes=[{"name": "podinfo", "downwardAPI": {"items": [
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}}]}}])
    name = "kubernetes-downwardapi-volume-example"
    assert sh(sim, name, "cat", "/etc/podinfo/labels")[1] == 'cluster="test-cluster1"\nrack="rack-22"\nzone="us-est-coast"'
    assert sh(sim, name, "cat", "/etc/podinfo/annotations")[1] == 'build="two"\nbuilder="john-doe"'


def test_projected_volume_and_service_account_files(sim, core):
    make_pod(sim, core, "volume-test", [{**BUSY, "volumeMounts": [{"name": "all-in-one", "mountPath": "/projected-volume", "readOnly": True}]}],
             volumes=[{"name": "all-in-one", "projected": {"sources": [
                 {"secret": {"name": "test-secret", "items": [{"key": "username", "path": "my-group/my-username"}]}},
                 {"configMap": {"name": "special-config", "items": [{"key": "SPECIAL_TYPE", "path": "my-type"}]}},
                 {"downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                 {"serviceAccountToken": {"path": "token", "audience": "vault"}}]}}])
    assert sh(sim, "volume-test", "ls", "/projected-volume") == (0, "my-group\nmy-type\nname\ntoken\n", "")
    assert sh(sim, "volume-test", "cat", "/projected-volume/my-group/my-username")[1] == "my-app"
    sa = "/var/run/secrets/kubernetes.io/serviceaccount"
    assert sh(sim, "volume-test", "ls", sa)[1] == "ca.crt\nnamespace\ntoken\n"
    assert sh(sim, "volume-test", "cat", sa + "/namespace")[1] == "default"
    token = sh(sim, "volume-test", "cat", sa + "/token")[1]
    assert token.count(".") == 2 and "system:serviceaccount:default:default" in base64.urlsafe_b64decode(token.split(".")[1] + "==").decode()
    make_pod(sim, core, "no-token", [BUSY], automountServiceAccountToken=False)
    assert sh(sim, "no-token", "ls", sa)[0] == 1
    bare = {"metadata": {"name": "bare", "namespace": "default", "uid": "u1"}, "spec": {"containers": [BUSY]}}
    files = userland.container_view(sim.store, bare, "c").files
    assert files[sa + "/namespace"] == b"default" and files[sa + "/token"].count(b".") == 2, "a pod stored without admission"


def test_mount_errors_are_the_failed_mount_messages(sim, core):
    fake = {"metadata": {"name": "m", "namespace": "default", "uid": "u"}, "spec": {"containers": [BUSY], "volumes": [
        {"name": "cfg", "configMap": {"name": "nothere"}},
        {"name": "opt", "configMap": {"name": "nothere", "optional": True}},
        {"name": "key", "configMap": {"name": "special-config", "items": [{"key": "nokey", "path": "x"}]}},
        {"name": "sec", "secret": {"secretName": "nosecret"}},
        {"name": "scratch", "emptyDir": {}}]}}
    assert userland.mount_errors(sim.store, fake) == [
        ("cfg", 'MountVolume.SetUp failed for volume "cfg" : configmap "nothere" not found'),
        ("key", 'MountVolume.SetUp failed for volume "key" : configmap references non-existent config key: nokey'),
        ("sec", 'MountVolume.SetUp failed for volume "sec" : secret "nosecret" not found')]


def test_configmap_updates_reach_files_after_the_sync_delay_but_not_env_or_subpath(sim, core):
    core.create_namespaced_config_map("default", {"metadata": {"name": "live"}, "data": {"color": "blue"}})
    make_pod(sim, core, "watcher", [{**BUSY, "env": [{"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "live", "key": "color"}}}],
                                     "volumeMounts": [{"name": "v", "mountPath": "/etc/live"},
                                                      {"name": "v", "mountPath": "/etc/color", "subPath": "color"}]}],
             volumes=[{"name": "v", "configMap": {"name": "live"}}])
    userland.track(sim.store)
    core.patch_namespaced_config_map("live", "default", {"data": {"color": "red"}})
    sim.advance(5)
    assert sh(sim, "watcher", "cat", "/etc/live/color")[1] == "blue", "the kubelet has not synced the pod yet"
    sim.advance(60)
    assert sh(sim, "watcher", "cat", "/etc/live/color")[1] == "red"
    assert sh(sim, "watcher", "cat", "/etc/color")[1] == "blue", "a subPath mount never follows updates"
    assert sh(sim, "watcher", "printenv", "COLOR")[1] == "blue\n", "env is read once, when the container starts"


def test_etc_hosts_resolv_conf_and_hostname(sim, core):
    p = make_pod(sim, core, "hostaliases-pod", [BUSY], hostAliases=[
        {"ip": "127.0.0.1", "hostnames": ["foo.local", "bar.local"]}, {"ip": "10.1.2.3", "hostnames": ["foo.remote", "bar.remote"]}])
    assert sh(sim, "hostaliases-pod", "cat", "/etc/hosts")[1] == (
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
        "fe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
        f"{p['status']['podIP']}\thostaliases-pod\n\n# Entries added by HostAliases.\n127.0.0.1\tfoo.local\tbar.local\n"
        "10.1.2.3\tfoo.remote\tbar.remote\n")
    assert sh(sim, "hostaliases-pod", "cat", "/etc/resolv.conf")[1] == (
        "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n")
    assert sh(sim, "hostaliases-pod", "hostname") == (0, "hostaliases-pod\n", "")
    make_pod(sim, core, "dns-example", [BUSY], dnsPolicy="None", dnsConfig={
        "nameservers": ["192.0.2.1"], "searches": ["ns1.svc.cluster-domain.example", "my.dns.search.suffix"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]})
    assert sh(sim, "dns-example", "cat", "/etc/resolv.conf")[1] == (
        "search ns1.svc.cluster-domain.example my.dns.search.suffix\nnameserver 192.0.2.1\noptions ndots:2 edns0\n")


def test_bootcamp_image_has_server_js_in_its_working_directory(sim, core):
    make_pod(sim, core, "kubernetes-bootcamp-abc", [{"name": "kubernetes-bootcamp", "image": "gcr.io/google-samples/kubernetes-bootcamp:v1"}])
    code, out, _ = sh(sim, "kubernetes-bootcamp-abc", "bash", stdin=b"cat server.js | head -1\nexit\n")
    assert (code, out) == (0, "var http = require('http');\n")
    code, out, _ = sh(sim, "kubernetes-bootcamp-abc", "bash", stdin=b"pwd\r\x04", tty=True)
    assert out == "root@kubernetes-bootcamp-abc:/# pwd\r\n/\r\nroot@kubernetes-bootcamp-abc:/# exit\r\n"


# ---- the shell -------------------------------------------------------------------------------
def test_exit_codes_and_the_honest_line_for_what_is_not_emulated(sim, core):
    make_pod(sim, core, "shelly", [BUSY])
    assert sh(sim, "shelly", "false")[0] == 1
    assert sh(sim, "shelly", "true")[0] == 0
    assert sh(sim, "shelly", "sh", "-c", "exit 7")[0] == 7
    code, out, err = sh(sim, "shelly", "vim", "/etc/hosts")
    assert code == 127 and err.startswith("kubesim: `vim` is not emulated; this container understands: ") and "nslookup" in err
    code, _, err = sh(sim, "shelly", "bash")
    assert code == 126 and 'exec: "bash": executable file not found in $PATH' in err


def test_words_expansion_operators_pipes_and_redirects(sim, core):
    make_pod(sim, core, "words", [BUSY])
    script = ("A='one two'; echo \"$A\" ${A} \"${B:-dflt}\" $((2*3)); false; echo $?; false || echo or; true && echo and; "
              "echo x > /tmp/f; echo y >> /tmp/f; cat /tmp/f | wc -l; cat /tmp/f | grep y; ls /etc | head -2; "
              "for i in 1 2; do echo n$i; done; if [ -f /tmp/f ]; then echo file; else echo none; fi; echo $(hostname)-`echo z`")
    code, out, err = sh(sim, "words", "sh", "-c", script)
    assert (code, err) == (0, "")
    assert out == "one two one two dflt 6\n1\nor\nand\n2\ny\ngroup\nhostname\nn1\nn2\nfile\nwords-z\n"
    assert sh(sim, "words", "cat", "/tmp/f")[1] == "x\ny\n", "writes stay in the container for the next exec"
    assert sh(sim, "words", "sh", "-c", "cat /nope")[2] == "cat: can't open '/nope': No such file or directory\n"
    assert sh(sim, "words", "sh", "-c", "echo 'unterminated")[0] == 2


def test_piped_stdin_runs_each_line_without_a_prompt(sim, core):
    make_pod(sim, core, "piped", [BUSY])
    assert sh(sim, "piped", "sh", stdin=b"echo one\nexit 4\necho never\n") == (4, "one\n", "")
    assert sh(sim, "piped", "sh", stdin=b"") == (0, "", "")
    assert sh(sim, "piped", "cat", stdin=b"from stdin") == (0, "from stdin", "")


def test_tty_line_discipline_and_prompt(sim, core):
    make_pod(sim, core, "tty", [BUSY])
    code, out, _ = sh(sim, "tty", "sh", stdin=b"echo hellp\x7fo\rcd /tmp\rexit 3\r", tty=True)
    assert code == 3
    assert out == "/ # echo hellp\b \bo\r\nhello\r\n/ # cd /tmp\r\n/tmp # exit 3\r\n"


def test_ps_shows_the_container_command_as_pid_1(sim, core):
    make_pod(sim, core, "pstest", [BUSY])
    assert sh(sim, "pstest", "ps") == (0, "PID   USER     TIME  COMMAND\n    1 root      0:00 sleep 3600\n    7 root      0:00 ps\n", "")


# ---- writes and exec probes ------------------------------------------------------------------
def test_liveness_exec_files_from_the_program_and_from_kubectl_exec(sim, core):
    p = make_pod(sim, core, "liveness-exec", [{"name": "liveness", "image": "registry.k8s.io/busybox", "args": [
        "/bin/sh", "-c", "touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600"]}], wait=3)
    start = userland.view.started_at(p, "liveness")
    assert userland.file_exists(sim.store, p, "liveness", "/tmp/healthy", start + 5)
    assert not userland.file_exists(sim.store, p, "liveness", "/tmp/healthy", start + 31)
    seen = []
    stop = userland.on_overlay_change(lambda ns, name, c: seen.append((ns, name, c)))
    try:
        assert sh(sim, "liveness-exec", "rm", "/tmp/healthy") == (0, "", "")
    finally:
        stop()
    assert seen == [("default", "liveness-exec", "liveness")]
    now = sim.store.clock.time()
    assert not userland.file_exists(sim.store, p, "liveness", "/tmp/healthy", now)
    assert sh(sim, "liveness-exec", "cat", "/tmp/healthy")[0] == 1


# ---- DNS and the network ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def web(sim, core):
    from kubernetes import client, config
    apps = client.AppsV1Api(config.new_client_from_config(sim.kubeconfig))
    apps.create_namespaced_deployment("default", {"metadata": {"name": "web"}, "spec": {
        "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}})
    core.create_namespaced_service("default", {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    core.create_namespaced_service("default", {"metadata": {"name": "web-headless"},
                                               "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"port": 80}]}})
    core.create_namespaced_service("default", {"metadata": {"name": "nobody"}, "spec": {"selector": {"app": "none"}, "ports": [{"port": 80}]}})
    make_pod(sim, core, "dnsutils", [{"name": "dnsutils", "image": "registry.k8s.io/e2e-test-images/jessie-dnsutils:1.3",
                                      "command": ["sleep", "infinity"]}], wait=30)
    make_pod(sim, core, "bb28", [{"name": "c", "image": "busybox:1.28", "command": ["sleep", "3600"]}])
    make_pod(sim, core, "client", [BUSY])
    return core.read_namespaced_service("web", "default").spec.cluster_ip


def test_nslookup_of_services_in_busybox_and_dnsutils_wording(sim, web):
    assert sh(sim, "client", "nslookup", "web") == (0, "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n"
                                                        f"Name:\tweb.default.svc.cluster.local\nAddress: {web}\n\n", "")
    assert sh(sim, "dnsutils", "nslookup", "kubernetes.default") == (
        0, "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\nName:\tkubernetes.default.svc.cluster.local\nAddress: 10.96.0.1\n\n", "")
    assert sh(sim, "bb28", "nslookup", "kubernetes.default") == (
        0, "Server:    10.96.0.10\nAddress 1: 10.96.0.10 kube-dns.kube-system.svc.cluster.local\n\n"
           "Name:      kubernetes.default\nAddress 1: 10.96.0.1 kubernetes.default.svc.cluster.local\n", "")
    assert sh(sim, "client", "nslookup", "nosuch") == (
        1, "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n** server can't find nosuch: NXDOMAIN\n\n", "")


def test_headless_service_pod_records_getent_and_dig(sim, web):
    ips = sorted(p["status"]["podIP"] for p in sim.store.list(PODS, "default")[0] if (p["metadata"].get("labels") or {}).get("app") == "web")
    code, out, _ = sh(sim, "client", "nslookup", "web-headless.default.svc.cluster.local")
    assert code == 0 and sorted(line.split()[1] for line in out.splitlines() if line.startswith("Address: ")) == ips
    assert sh(sim, "dnsutils", "dig", "+short", "web-headless.default.svc.cluster.local")[1].split() == ips
    dashed = ips[0].replace(".", "-")
    assert sh(sim, "dnsutils", "getent", "hosts", f"{dashed}.default.pod.cluster.local")[1] == f"{ips[0]:<15} {dashed}.default.pod.cluster.local\n"
    assert sh(sim, "dnsutils", "getent", "hosts", "web")[1] == f"{web:<15} web.default.svc.cluster.local\n"


def test_wget_and_curl_reach_what_serves_there(sim, web):
    code, out, err = sh(sim, "client", "wget", "-qO-", "http://web")
    assert (code, err) == (0, "") and "<title>Welcome to nginx!</title>" in out
    code, out, err = sh(sim, "client", "wget", "-O-", "web")
    assert err.startswith(f"Connecting to web ({web}:80)\nwriting to stdout\n") and err.endswith("written to stdout\n")
    nobody = sim.store.get(resources.get("/services"), "default", "nobody")["spec"]["clusterIP"]
    assert sh(sim, "client", "wget", "-qO-", "nobody") == (1, "", f"wget: can't connect to remote host ({nobody}): Connection refused\n")
    assert sh(sim, "client", "wget", "-qO-", "nosuch") == (1, "", "wget: bad address 'nosuch'\n")
    assert sh(sim, "client", "nc", "-zv", "web", "80") == (0, "", f"web ({web}:80) open\n")
    nginx = next(p["metadata"]["name"] for p in sim.store.list(PODS, "default")[0] if (p["metadata"].get("labels") or {}).get("app") == "web")
    code, out, err = sh(sim, nginx, "curl", "-s", "http://web")
    assert (code, err) == (0, "") and "Welcome to nginx!" in out, "the nginx image has curl"
    code, _, err = sh(sim, "dnsutils", "curl", "web")
    assert code == 126, "jessie-dnsutils has no curl"


def test_wget_prints_the_answer_of_a_monkeypatched_server(sim, web, monkeypatch):
    from labkit.kubesim import serving
    monkeypatch.setattr(serving, "http_request", lambda *a, **k: serving.HttpAnswer(200, "OK", {}, b"OK!"))
    assert sh(sim, "client", "sh", "-c", "wget -q -O- http://web; echo") == (0, "OK!\n", "")


def test_tar_round_trip_as_kubectl_cp_uses_it(sim, web):
    import tarfile
    code, archive, _ = sh(sim, "client", "sh", "-c", "mkdir -p /tmp/out/sub; echo data > /tmp/out/sub/f; tar cf - /tmp/out")
    assert code == 0
    with tarfile.open(fileobj=io.BytesIO(archive.encode("latin-1", errors="replace")), mode="r") as tar:
        names = tar.getnames()
    assert names == ["tmp/out", "tmp/out/sub", "tmp/out/sub/f"], "kubectl cp POD:/tmp/out reads this archive"
    view = userland.container_view(sim.store, pod(sim, "client"), "c")
    out, err = [], []
    # kubectl cp into a pod: tar --no-same-permissions --no-same-owner -xmf - -C /dest
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("copied/hello.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"hi\n"))
    code = userland.run(view, ["tar", "--no-same-permissions", "--no-same-owner", "-xmf", "-", "-C", "/tmp"],
                        io.BytesIO(buf.getvalue()), out.append, err.append)
    assert (code, err) == (0, [])
    assert sh(sim, "client", "cat", "/tmp/copied/hello.txt") == (0, "hi\n", "")


class Keys:
    """A terminal's keystrokes arriving over time (S1's pipe: read blocks until data or EOF)."""

    def __init__(self, *chunks: tuple[float, bytes]):
        self.chunks = list(chunks)

    def read(self, n: int = -1) -> bytes:
        import time
        if not self.chunks:
            return b""
        delay, data = self.chunks.pop(0)
        time.sleep(delay)
        return data


def test_ctrl_c_interrupts_sleep_at_the_prompt_and_a_loop_run_with_sh_c(sim, core):
    import time
    make_pod(sim, core, "interrupt", [BUSY])
    view = userland.container_view(sim.store, pod(sim, "interrupt"), "c")
    out: list[bytes] = []
    began = time.monotonic()
    keys = Keys((0, b"sleep 100\r"), (0.3, b"\x03"), (0.1, b"echo $?\r"), (0, b"exit\r"))
    code = userland.run(view, ["sh"], keys, out.append, out.append, tty=True)
    assert time.monotonic() - began < 5 and code == 0
    assert b"".join(out) == b"/ # sleep 100\r\n^C\r\n/ # echo $?\r\n130\r\n/ # exit\r\n"
    began = time.monotonic()
    code = userland.run(view, ["/bin/sh", "-c", "while sleep 0.01; do echo OK!; done"], Keys((0.3, b"\x03")), out.append, out.append, tty=True)
    assert code == 130 and time.monotonic() - began < 5
