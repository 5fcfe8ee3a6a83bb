package remote

type dockerMode int
