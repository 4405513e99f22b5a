package main

import (
	"encoding/json"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/api"
	"github.com/spf13/cobra"
)

func (a *app) openapiCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "openapi",
		Short: "Print the REST API's OpenAPI 3.1 document (served at /v1/openapi.json), for client generators",
		Long: `Print the OpenAPI 3.1 document of the REST API: agentledger's /v1 and the
capped.ai-compatible /api. It is the document serve --http serves at
/v1/openapi.json, generated from the types the server decodes and encodes; no
database is opened.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := json.MarshalIndent(api.New(nil, api.Options{Version: version}).OpenAPI(), "", "  ")
			if err != nil {
				return err
			}
			_, err = a.out.Write(append(raw, '\n'))
			return err
		},
	}
}
