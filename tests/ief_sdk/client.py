"""Huawei's official IEF SDK (huaweicloudsdkief) against computehub.

Run by tests/e2e/ief_sdk.rs with the server's loopback endpoint and an AK/SK
created by `computehub keys create --scheme aksk`. It lists pods, creates a
deployment, shows it, waits for its pod in the pod list, deletes it and
checks that it is gone, then prints one JSON line with what it saw.
"""

import json
import os
import sys
import time

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions import exceptions
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkief.v1 import (
    Attributes,
    ContainerDef,
    CreateAppsInDeploymentV3,
    CreateDeploymentsRequest,
    DeleteDeploymentRequest,
    Deployment,
    DeploymentResources,
    IefClient,
    ListDeploymentsRequest,
    ListPodsRequest,
    PodConfigs,
    PodRequest,
    ShowDeploymentRequest,
)


def main():
    endpoint = os.environ["IEF_ENDPOINT"]
    project = os.environ["IEF_PROJECT"]
    node = os.environ["IEF_NODE_ID"]
    config = HttpConfig.get_default_config()
    config.timeout = (5, 30)
    config.retry_times = 0
    credentials = BasicCredentials(os.environ["IEF_AK"], os.environ["IEF_SK"], project)
    client = (
        IefClient.new_builder()
        .with_http_config(config)
        .with_credentials(credentials)
        .with_endpoints([endpoint])
        .build()
    )
    seen = {}

    before = client.list_pods(ListPodsRequest(node_id=node))
    seen["pods_before"] = before.count

    body = Deployment(
        name="sdk-app",
        description="created by huaweicloudsdkief",
        node_ids=[node],
        tags=[Attributes(key="origin", value="sdk")],
        deployment=CreateAppsInDeploymentV3(
            replicas=1,
            template=PodRequest(
                configs=PodConfigs(host_network=False, restart_policy="Always"),
                containers=[
                    ContainerDef(
                        name="web",
                        image_url="nginx",
                        version="1.27",
                        resources=DeploymentResources(
                            limits={"cpu": "0.5", "memory": "256"},
                            requests={"cpu": "0.25", "memory": "128"},
                        ),
                    )
                ],
            ),
        ),
    )
    created = client.create_deployments(CreateDeploymentsRequest(body=body))
    seen["create_status"] = created.status_code
    seen["id"] = created.id
    seen["created_name"] = created.name
    seen["created_at"] = created.created_at
    seen["api_version"] = created.api_version

    shown = client.show_deployment(ShowDeploymentRequest(deployment_id=created.id))
    seen["shown_name"] = shown.name
    seen["shown_node_ids"] = shown.node_ids

    listed = client.list_deployments(ListDeploymentsRequest())
    seen["deployments"] = listed.count

    pods = None
    for _ in range(60):
        pods = client.list_pods(ListPodsRequest(deployment_id=created.id))
        if pods.count == 1 and pods.pods[0].state == "RUNNING":
            break
        time.sleep(0.25)
    seen["pods"] = pods.count
    pod = pods.pods[0]
    seen["pod_state"] = pod.state
    seen["pod_node_id"] = pod.node_id
    seen["pod_image"] = pod.containers[0].image_url
    seen["pod_version"] = pod.containers[0].version
    seen["pod_cpu_limit"] = pod.containers[0].resources.limits.get("cpu")
    seen["pod_memory_limit"] = pod.containers[0].resources.limits.get("memory")

    deleted = client.delete_deployment(DeleteDeploymentRequest(deployment_id=created.id))
    seen["delete_status"] = deleted.status_code

    try:
        client.show_deployment(ShowDeploymentRequest(deployment_id=created.id))
        seen["after_delete"] = "still there"
    except exceptions.ClientRequestException as e:
        seen["after_delete"] = {"status": e.status_code, "code": e.error_code}

    print(json.dumps(seen))


if __name__ == "__main__":
    try:
        main()
    except exceptions.SdkException as e:
        print("SDK error: %s" % e, file=sys.stderr)
        sys.exit(1)
