package addon

// Icon is an image HipChat shows at two resolutions: URL for ordinary
// screens and URL2x, when set, for high-density ones.
type Icon struct {
	URL   string `json:"url"`
	URL2x string `json:"url@2x,omitempty"`
}
