"""The demo's Lambda handler. The demo rewrites GREETING_VERSION to build a second artifact."""

import json
import os

GREETING_VERSION = 1


def handler(event, context):
    return {
        "statusCode": 200,
        "body": json.dumps({"message": f"hello from v{GREETING_VERSION}", "env": os.environ.get("STAGE", "?")}),
    }
