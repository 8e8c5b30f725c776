"""The moto baseline's own virtual environment (bench/.venv-moto), created on first use."""

from __future__ import annotations

import http.client
import re
import subprocess
import sys
from pathlib import Path

from bench.signer import canonical_query, sigv4_headers
from bench.workloads import EC2_VERSION, MOTO_ACCESS_KEY_ID, MOTO_SECRET

VENV = Path(__file__).resolve().parent / ".venv-moto"


EC2_TRUST = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},'
    '"Action":"sts:AssumeRole"}]}'
)


def moto_server_path() -> Path:
    return VENV / "bin" / "moto_server"


def ensure_moto() -> Path:
    """Create the venv and install ``moto[server]`` unless it is there already; returns moto_server."""
    server = moto_server_path()
    if server.exists():
        return server
    print(f"installing moto[server] into {VENV} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", "moto[server]"], check=True)
    return server


def moto_version() -> str:
    python = VENV / "bin" / "python"
    if not python.exists():
        return "not installed"
    out = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('moto'), m.version('werkzeug'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    parts = out.stdout.split()
    return f"moto {parts[0]} (werkzeug {parts[1]})" if len(parts) == 2 else "unknown"


class MotoClient:
    """Set-up calls (not timed) to moto_server over the AWS Query API with SigV4 headers."""

    def __init__(self, port: int) -> None:
        self.host = f"127.0.0.1:{port}"
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def close(self) -> None:
        self._connection.close()

    def call(self, service: str, version: str, params: dict[str, str]) -> str:
        query = canonical_query({**params, "Version": version})
        headers = sigv4_headers(
            access_key_id=MOTO_ACCESS_KEY_ID,
            secret=MOTO_SECRET,
            host=self.host,
            region="us-east-1",
            service=service,
            query=query,
        )
        self._connection.request("GET", f"/?{query}", headers=headers)
        response = self._connection.getresponse()
        body = response.read().decode()
        if response.status != 200:
            raise RuntimeError(f"moto {params.get('Action')}: HTTP {response.status}: {body[:300]}")
        return body

    def create_instance_profile(self, name: str) -> None:
        self.call(
            "iam", "2010-05-08", {"Action": "CreateRole", "RoleName": name, "AssumeRolePolicyDocument": EC2_TRUST}
        )
        self.call("iam", "2010-05-08", {"Action": "CreateInstanceProfile", "InstanceProfileName": name})
        self.call(
            "iam", "2010-05-08", {"Action": "AddRoleToInstanceProfile", "InstanceProfileName": name, "RoleName": name}
        )

    def run_instances(self, count: int) -> list[str]:
        ids: list[str] = []
        while len(ids) < count:
            amount = str(min(100, count - len(ids)))
            body = self.call(
                "ec2",
                EC2_VERSION,
                {
                    "Action": "RunInstances",
                    "ImageId": "ami-12c6146b",
                    "InstanceType": "t3.micro",
                    "MinCount": amount,
                    "MaxCount": amount,
                },
            )
            ids.extend(re.findall(r"<instanceId>(i-[0-9a-f]+)</instanceId>", body))
        return ids[:count]

    def associate(self, instance_id: str, profile: str) -> str:
        body = self.call(
            "ec2",
            EC2_VERSION,
            {"Action": "AssociateIamInstanceProfile", "InstanceId": instance_id, "IamInstanceProfile.Name": profile},
        )
        match = re.search(r"<associationId>([^<]+)</associationId>", body)
        if match is None:
            raise RuntimeError(f"no associationId in {body[:300]}")
        return match.group(1)

    def disassociate_leftovers(self, instance_ids: set[str]) -> int:
        """Disassociate every association of ``instance_ids`` (moto pages by MaxItems/NextToken)."""
        found: list[str] = []
        token = ""
        while True:
            params = {"Action": "DescribeIamInstanceProfileAssociations", "MaxItems": "1000"}
            if token:
                params["NextToken"] = token
            body = self.call("ec2", EC2_VERSION, params)
            for association, instance in re.findall(
                r"<associationId>([^<]+)</associationId><instanceId>([^<]+)</instanceId>", body
            ):
                if instance in instance_ids:
                    found.append(association)
            match = re.search(r"<nextToken>([^<]+)</nextToken>", body)
            if not match:
                break
            token = match.group(1)
        for association in found:
            self.call("ec2", EC2_VERSION, {"Action": "DisassociateIamInstanceProfile", "AssociationId": association})
        return len(found)
