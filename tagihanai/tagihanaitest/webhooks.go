package tagihanaitest

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
)

// Subscription is a webhook subscription the fake holds.
type Subscription struct {
	ID                  string
	URL                 string
	EventTypes          []string
	Description         string
	IsActive            bool
	SigningSecret       string // "whsec_" + 48 hex digits, the HMAC key as raw bytes
	ConsecutiveFailures int
	LastDeliveryAt      time.Time // zero before the first delivery
	CreatedAt           time.Time
}

// Subscribes reports whether sub is active and wants events of eventType
// ("*" wants every type).
func (sub Subscription) Subscribes(eventType string) bool {
	return sub.IsActive && (slices.Contains(sub.EventTypes, "*") || slices.Contains(sub.EventTypes, eventType))
}

// clone returns a copy of sub that shares nothing with it.
func (sub *Subscription) clone() Subscription {
	c := *sub
	c.EventTypes = slices.Clone(sub.EventTypes)
	return c
}

// subscriptionJSON is a subscription as the API answers it; the signing
// secret only in the answer to its creation.
type subscriptionJSON struct {
	ID                  string   `json:"id"`
	URL                 string   `json:"url"`
	SigningSecret       string   `json:"signing_secret,omitempty"`
	EventTypes          []string `json:"event_types"`
	Description         string   `json:"description,omitempty"`
	IsActive            bool     `json:"is_active"`
	ConsecutiveFailures int      `json:"consecutive_failures"`
	LastDeliveryAt      *string  `json:"last_delivery_at"`
	CreatedAt           string   `json:"created_at"`
}

func (sub *Subscription) toJSON(withSecret bool) subscriptionJSON {
	j := subscriptionJSON{ID: sub.ID, URL: sub.URL, EventTypes: slices.Clone(sub.EventTypes), Description: sub.Description,
		IsActive: sub.IsActive, ConsecutiveFailures: sub.ConsecutiveFailures, CreatedAt: timestamp(sub.CreatedAt)}
	if withSecret {
		j.SigningSecret = sub.SigningSecret
	}
	if !sub.LastDeliveryAt.IsZero() {
		t := timestamp(sub.LastDeliveryAt)
		j.LastDeliveryAt = &t
	}
	return j
}

// AddWebhook creates a subscription as POST /webhooks would, without a
// request (say, one made earlier by someone else), and returns it with its
// signing secret. It fails the test when url or eventTypes would be
// refused.
func (s *Server) AddWebhook(url string, eventTypes []string, description string) Subscription {
	s.tb.Helper()
	if msg := checkSubscription(url, eventTypes); msg != "" {
		s.errorf("AddWebhook: %s", msg)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addWebhookLocked(url, eventTypes, description).clone()
}

func (s *Server) addWebhookLocked(url string, eventTypes []string, description string) *Subscription {
	sub := &Subscription{
		ID:            newUUID(),
		URL:           url,
		EventTypes:    slices.Clone(eventTypes),
		Description:   description,
		IsActive:      true,
		SigningSecret: "whsec_" + randomHex(24),
		CreatedAt:     s.now().UTC().Truncate(time.Second),
	}
	s.subs = append(s.subs, sub)
	return sub
}

// Webhooks returns the subscriptions, signing secrets included, in order
// of creation.
func (s *Server) Webhooks() []Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Subscription, 0, len(s.subs))
	for _, sub := range s.subs {
		out = append(out, sub.clone())
	}
	return out
}

// Webhook returns subscription id, false when there is none.
func (s *Server) Webhook(id string) (Subscription, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub := s.subLocked(id); sub != nil {
		return sub.clone(), true
	}
	return Subscription{}, false
}

func (s *Server) subLocked(id string) *Subscription {
	for _, sub := range s.subs {
		if sub.ID == id {
			return sub
		}
	}
	return nil
}

// eventTypes are the types a subscription may name besides "*".
var eventTypes = fixtures.Types()

// checkSubscription says what the API refuses in a subscription's url and
// event types, "" when nothing: the URL must be HTTPS (plain HTTP is let
// through only to 127.0.0.1, ::1 and localhost, for tests), and the event
// types a non-empty list of TagihanAI's event types or "*". TagihanAI
// documents no globs such as "transaction.*", so the fake refuses them.
func checkSubscription(raw string, types []string) string {
	if msg := checkURL(raw); msg != "" {
		return msg
	}
	return checkEventTypes(types)
}

func checkURL(raw string) string {
	if raw == "" {
		return "url: required"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return "url: must be an absolute HTTPS URL"
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		host := u.Hostname()
		if host == "localhost" || (net.ParseIP(host) != nil && net.ParseIP(host).IsLoopback()) {
			return ""
		}
	}
	return "url: must be an HTTPS URL"
}

func checkEventTypes(types []string) string {
	if len(types) == 0 {
		return "event_types: required, at least one event type (use [\"*\"] for all)"
	}
	for _, t := range types {
		if t != "*" && !slices.Contains(eventTypes, t) {
			return "event_types: unknown event type \"" + t + "\""
		}
	}
	return ""
}

func (s *Server) handleListWebhooks(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := make([]subscriptionJSON, 0, len(s.subs))
	for _, sub := range s.subs {
		out = append(out, sub.toJSON(false))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (s *Server) handleCreateWebhook(w http.ResponseWriter, r *http.Request) {
	var req struct {
		URL         string   `json:"url"`
		EventTypes  []string `json:"event_types"`
		Description string   `json:"description"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if msg := checkSubscription(req.URL, req.EventTypes); msg != "" {
		writeError(w, http.StatusUnprocessableEntity, "validation-failed", msg)
		return
	}
	s.mu.Lock()
	sub := s.addWebhookLocked(req.URL, req.EventTypes, strings.TrimSpace(req.Description))
	j := sub.toJSON(true)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"data": j})
}

func (s *Server) handleGetWebhook(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	sub := s.subLocked(r.PathValue("id"))
	var j subscriptionJSON
	if sub != nil {
		j = sub.toJSON(false)
	}
	s.mu.Unlock()
	if sub == nil {
		writeError(w, http.StatusNotFound, "not-found", "Resource does not exist in this workspace")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": j})
}

func (s *Server) handleUpdateWebhook(w http.ResponseWriter, r *http.Request) {
	var req struct {
		URL        *string  `json:"url"`
		EventTypes []string `json:"event_types"`
		IsActive   *bool    `json:"is_active"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if req.URL != nil {
		if msg := checkURL(*req.URL); msg != "" {
			writeError(w, http.StatusUnprocessableEntity, "validation-failed", msg)
			return
		}
	}
	if req.EventTypes != nil {
		if msg := checkEventTypes(req.EventTypes); msg != "" {
			writeError(w, http.StatusUnprocessableEntity, "validation-failed", msg)
			return
		}
	}
	s.mu.Lock()
	sub := s.subLocked(r.PathValue("id"))
	var j subscriptionJSON
	if sub != nil {
		if req.URL != nil {
			sub.URL = *req.URL
		}
		if req.EventTypes != nil {
			sub.EventTypes = slices.Clone(req.EventTypes)
		}
		if req.IsActive != nil {
			sub.IsActive = *req.IsActive
		}
		j = sub.toJSON(false)
	}
	s.mu.Unlock()
	if sub == nil {
		writeError(w, http.StatusNotFound, "not-found", "Resource does not exist in this workspace")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": j})
}

func (s *Server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	i := slices.IndexFunc(s.subs, func(sub *Subscription) bool { return sub.ID == id })
	if i >= 0 {
		s.subs = slices.Delete(s.subs, i, i+1)
		delete(s.logs, id)
	}
	s.mu.Unlock()
	if i < 0 {
		writeError(w, http.StatusNotFound, "not-found", "Resource does not exist in this workspace")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
