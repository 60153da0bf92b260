-- users.email is an unverified contact address, never an identity (accounts sign in with their
-- Substrate key). Unique, it told anyone who typed an address whether another account used it
-- (409 "that email is taken") and let one account squat another person's address.
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_email_key;
