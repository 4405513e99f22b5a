package mcp

import "github.com/agentledger/agentledger/engine"

// KeyCacheTTL is how long a checked API key is trusted without looking it
// up again: a key revoked with the CLI stops working within this time.
const KeyCacheTTL = engine.DefaultKeyCacheTTL
