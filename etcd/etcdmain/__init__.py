"""etcd's ``etcdmain``: the command line (flags, ETCD_* env, ``--config-file``) and data-dir identification.

``config.parse(argv, environ)`` gives a validated ``Config``; ``datadir.identify(path)`` says whether the
data dir holds a member, a proxy or nothing; ``help.usage()`` is the ``--help`` text.
"""
