"""Classes with a join code, memberships, assignments and class progress."""
