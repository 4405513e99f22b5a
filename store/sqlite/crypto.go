package sqlite

import "github.com/agentledger/agentledger/store/seal"

// The store key and its key file are package seal's, shared by every store;
// these names stay for the callers that open a SQLite store.
const KeySize = seal.KeySize

var (
	GenerateKey   = seal.GenerateKey
	EncodeKey     = seal.EncodeKey
	ParseKey      = seal.ParseKey
	ReadKeyFile   = seal.ReadKeyFile
	CreateKeyFile = seal.CreateKeyFile
)
