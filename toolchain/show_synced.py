"""Print what each cluster of a stack file really has synced, asked of the API itself.

`make up` ends with this so that the newcomer sees the result on the
clusters, not only Pulumi's view of it. Usage: show_synced.py stacks/Pulumi.dev.yaml
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from mrs_iam_sync.client import MrsClient
from mrs_iam_sync.settings import resolve_settings


def main(stack_file: str) -> int:
    config = yaml.safe_load(Path(stack_file).read_text())["config"]
    stack_config = {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in config.items()
        if key.startswith("huaweicloud:")
    }
    settings = resolve_settings(stack_config=stack_config)
    print(f"\nSynced on {settings.endpoint} (project {settings.project_id}):")
    with MrsClient(settings) as client:
        for entry in config.get("mrs-iam-sync:clusters", []):
            synced = client.list_synced(cluster_id=entry["cluster_id"])
            print(f"  {entry['name']:<18} {entry['cluster_id']}")
            print(f"    users:  {', '.join(synced.user_names) or '-'}")
            print(f"    groups: {', '.join(synced.group_names) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
