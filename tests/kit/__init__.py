"""The test kit: what every suite under ``tests/`` and the benchmarks in ``bench/`` share.

Each concern is declared here once and imported elsewhere:

* ``demo``: the emulator's demo world (ids, keys, tokens), read from ``mrs_emulator/demo-seed.yaml``;
* ``emulator``: an emulator under test, in this process (:class:`~kit.emulator.LocalEmulator`) or as
  a process (:class:`~kit.emulator.EmulatorProcess`), both driven through one client of the
  ``/_emulator/`` control API (:class:`~kit.emulator.Control`);
* ``api``: the five IAM-sync endpoints as a signed client calls them;
* ``environment``: the variables a developer's shell must not pass into a test or its subprocesses,
  and a bare ``PATH`` for testing the toolchain scripts;
* ``signer`` and ``vectors``: the reference signer, written from the published algorithm and
  independent of ``mrs_iam_sync``, and the SDK's signing vectors;
* ``pulumi``: where the Pulumi CLI is, and the environment of a test's (or a benchmark's) Pulumi
  projects;
* ``consumer``: a consumer repository's project outside this one, and the virtualenvs (pinned and
  lowest versions) holding a plain install of the built wheel that it runs with.

The fixtures built on it (the autouse credential scrubber, ``local_emulators``) are in
``tests/conftest.py``.  Pytest puts ``tests/`` on ``sys.path`` (it has no ``__init__.py``), so the
suites import ``kit``; ``bench/common.py`` adds ``tests/`` to the path itself.
"""
