package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/agentledger/agentledger/engine"
	"github.com/spf13/cobra"
)

// oauthCommand manages the clients that connect by URL with OAuth: list
// them and their grants, register one by hand, revoke.
func (a *app) oauthCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "oauth", Short: "OAuth clients that connect by URL: list, register, revoke"}
	list := &cobra.Command{
		Use: "list", Short: "List OAuth clients and their grants (which agent each acts as)", Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			clients, err := a.engine.ListOAuthClients(a.ctx, op, engine.Page{})
			if err != nil {
				return err
			}
			grants, err := a.engine.ListOAuthGrants(a.ctx, op, "", engine.Page{})
			if err != nil {
				return err
			}
			out := struct {
				Clients []*engine.OAuthClient `json:"clients"`
				Grants  []*engine.OAuthGrant  `json:"grants"`
			}{clients.Items, grants.Items}
			return a.emit(out, func(w io.Writer) {
				t := newTable(w, "CLIENT", "NAME", "REDIRECT URIS", "REGISTERED BY", "CREATED", "REVOKED")
				for _, c := range out.Clients {
					t.row(c.ID, c.Name, strings.Join(c.RedirectURIs, " "), c.RegisteredBy, timestamp(c.CreatedAt),
						optionalTime(c.RevokedAt))
				}
				t.flush()
				fmt.Fprintln(w)
				t = newTable(w, "GRANT", "CLIENT", "AGENT", "ACCESS", "STATUS", "APPROVED BY", "CREATED")
				for _, g := range out.Grants {
					access := "full"
					if g.ReadOnly {
						access = "read-only"
					}
					t.row(g.ID, g.ClientID, g.AgentID, access, g.Status(), g.ApprovedBy, timestamp(g.CreatedAt))
				}
				t.flush()
			})
		}),
	}

	var in engine.RegisterClientInput
	var confidential bool
	create := &cobra.Command{
		Use:   "register --name NAME --redirect-uri URI",
		Short: "Register an OAuth client by hand (for servers run with --no-oauth-registration)",
		Args:  cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			in.AuthMethod = engine.OAuthAuthNone
			if confidential {
				in.AuthMethod = engine.OAuthAuthClientSecretBasic
			}
			c, err := a.engine.CreateOAuthClient(a.ctx, op, in)
			if err != nil {
				return err
			}
			return a.emit(c, func(w io.Writer) {
				fmt.Fprintf(w, "Registered OAuth client %s (%s).\nclient_id: %s\n", c.ID, c.Name, c.ID)
				if c.Secret != "" {
					fmt.Fprintf(w, "client_secret (shown once, store it now):\n\n  %s\n", c.Secret)
				}
			})
		}),
	}
	create.Flags().StringVar(&in.Name, "name", "", "the client's name, shown on the consent page")
	create.Flags().StringArrayVar(&in.RedirectURIs, "redirect-uri", nil,
		"where the client receives its code (repeatable)")
	create.Flags().BoolVar(&confidential, "confidential", false,
		"give the client a secret (client_secret_basic); public clients use PKCE alone")

	revoke := &cobra.Command{
		Use:   "revoke CLIENT_ID|GRANT_ID",
		Short: "Revoke a client (oac_…: every grant, and it may not connect again) or one grant (ogr_…)",
		Args:  cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			res, err := a.engine.RevokeOAuth(a.ctx, op, engine.RevokeOAuthInput{ID: args[0]})
			if err != nil {
				return err
			}
			return a.emit(res, func(w io.Writer) {
				if res.Client != nil {
					fmt.Fprintf(w, "Client %s (%s) revoked.\n", res.Client.ID, res.Client.Name)
				}
				for _, g := range res.Grants {
					fmt.Fprintf(w, "Grant %s (agent %s) revoked: its tokens no longer work.\n", g.ID, g.AgentID)
				}
			})
		}),
	}
	cmd.AddCommand(list, create, revoke)
	return cmd
}
