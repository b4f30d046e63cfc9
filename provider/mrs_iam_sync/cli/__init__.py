"""``mrs-iam-sync``, the command line of this project: ``plan`` for reviews, ``show`` for adoption.

One module per subcommand (``plan``, ``show``), the rendering they share (``render``), the
preview model (``preview``), the ``pulumi`` commands they run (``pulumi_cli``) and the exit codes
(``outcome``). ``main`` wires them into one argparse parser.
"""
