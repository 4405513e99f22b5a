-- expect: but its transfers sum to
UPDATE accounts SET credits_posted = credits_posted + 100 WHERE kind = 'user';
