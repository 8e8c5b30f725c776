"""The operation contract that the wire (``gateway``) and the services both stand on.

``errors``: ``ApiError`` and the errors common to every product. ``call``: the ``Call`` a request
carries to its handler. ``operation``: ``Operation``, ``operation()`` and the ``Registry``.
``access``: the RAM authorisation every governed operation passes and handlers can ask again
(``may_pass_role``). ``paging``: opaque list tokens. ``catalogue``: the vendor catalogue and the
parameter rules built on it. Nothing here imports the wire or the services.
"""
