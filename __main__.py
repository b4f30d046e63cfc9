"""Stack program entry point: see mrs_iam_sync.stack."""

from mrs_iam_sync.stack import program

program()
