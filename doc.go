// Package addon is a library for writing HipChat Connect add-ons: web
// services that HipChat installs in a room or a whole group, sends signed
// webhooks and page loads to, and that call HipChat's REST API back.
//
// # Lifecycle of an add-on
//
// An add-on describes itself with a [CapabilitiesDescriptor]: its key and
// name, the API scopes it needs, and the URLs HipChat calls: the install
// callback, webhooks, glance query URLs and pages. [New] (or [Open], which
// returns errors instead of panicking) validates the descriptor against the
// handlers given as options, and [HipChatAddon.Routes] lists every path the
// descriptor implies, ready to mount on any mux; [HipChatAddon.Serve] runs
// a server with sensible timeouts instead.
//
// HipChat installs the add-on by POSTing an OAuth client's credentials to
// the callback URL. The install is not signed, so the add-on trusts it only
// after every check the protocol allows: the capabilities URL is on a
// HipChat server the operator trusts (see [TrustedServers]), HipChat's
// capabilities document describes itself at that URL, the credentials
// obtain a token, and a known installation keeps its group. Only then is
// the [Installation] kept in the [InstallationStore]: in memory
// ([NewMemoryInstallationStore]) or in a crash-safe file
// ([NewFileInstallationStore], used by [NewWithStateFile]). An [InstallCallback]
// may still refuse it; an [InstalledCallback] runs once it is stored.
//
// HipChat signs what it sends the add-on afterwards (webhooks, glance
// queries, page loads) with a JWT keyed by the installation's secret. The
// add-on verifies every one before a handler runs ([OnWebhook],
// [OnGlanceQuery], [PageHandler], [HipChatAddon.Authenticate]) and passes
// the verified installation, user and room in the request's context.
//
// To call HipChat, the add-on exchanges the installation's credentials for
// access tokens, caches them per installation and scope set, and renews
// them before they expire: [HipChatAddon.SendNotification],
// [HipChatAddon.UpdateGlanceData], [HipChatAddon.CallAPI] and the
// *http.Client of [HipChatAddon.Client] all do this for the caller. Every
// call that goes to the network has a form that takes a context.
//
// Uninstalling is not signed either: the add-on forgets an installation
// only once HipChat's token endpoint confirms it no longer knows it. An
// [UninstallCallback] may keep it all the same.
//
// Package addontest provides a fake HipChat server to test add-ons
// against, over real HTTP.
package addon
