"""Every script sent to the server, one module per topic, each builder beside the parser of
its output. Builders are pure (values in, POSIX sh text out, every value through
``shlex.quote``); parsers are pure functions of the output. Golden copies of each script
are in tests/golden/scripts/ (test_scripts.py, which also runs ``sh -n`` and shellcheck).

synapse_admin.py is different: a standard-library program sent by its own source to run in
the Synapse container.
"""
