-- expect: is below zero
PRAGMA ignore_check_constraints = ON;
UPDATE accounts SET debits_posted = debits_posted + 100000000 WHERE kind = 'user';
