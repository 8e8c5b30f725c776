"""The vendor catalogue (``vendor``, generated from Alibaba Cloud's API metadata into ``data/``) and
the parameter rules (``params``) every operation's inputs are checked with."""
