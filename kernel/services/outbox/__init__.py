"""The outbox: claiming due emails, sending them through the configured senders, and recovering.

- :mod:`.policy`: windows, business days, caps, backoff (pure arithmetic);
- :mod:`.messages`: Message-IDs and the message a row becomes;
- :mod:`.planner`: which due emails may go now, after every check, and why the rest wait;
- :mod:`.store`: the claim and the recording of outcomes, batched in transactions;
- :mod:`.delivery`: one send through a mailbox's senders, failover included;
- :mod:`.reconcile`: settling emails a crash left in ``sending``;
- :mod:`.worker`: the loop that ties them together;
- :mod:`.actions`: what a person does to one email (retry, cancel, mark sent, re-queue).
"""
