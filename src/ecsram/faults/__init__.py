"""Fault injection and emulated throttling (docs/faults.md).

``rules`` checks a rule's declaration (from the HTTP admin endpoint, the CLI or a seed file);
``injector`` keeps each worker's copy of the stored rules and applies them to calls: latency and
dropped connections before a call joins its batch, errors and throttling inside the batch's
transaction, right after authentication.
"""
