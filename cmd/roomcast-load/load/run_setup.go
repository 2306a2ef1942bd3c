package load

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
)

// setup creates one member (with its stream key) and one SCHEDULED room per stream,
// and the viewer member. A stream whose setup fails is reported and not published.
func (r *Runner) setup(ctx context.Context) {
	sem := make(chan struct{}, setupConcurrency)
	var wg sync.WaitGroup
	for _, s := range r.streams {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := r.setupStream(ctx, s); err != nil {
				s.failSetup(err)
				r.Log.Warn("setup failed", "stream", s.idx, "member", s.appUserID, "err", err)
			}
		})
	}
	wg.Wait()
	if r.Config.Viewers > 0 {
		if _, err := r.api.ensureMember(ctx, r.viewerMember()); err != nil {
			for _, s := range r.streams {
				s.failSetup(fmt.Errorf("viewer member: %w", err))
			}
		}
	}
}

func (r *Runner) viewerMember() string { return r.Config.AppUserPrefix + "viewer" }

func (r *Runner) setupStream(ctx context.Context, s *streamRun) error {
	key, err := r.api.ensureMember(ctx, s.appUserID)
	if err != nil {
		return err
	}
	rm, err := r.api.createRoom(ctx, s.appUserID, s.idx)
	if err != nil {
		return err
	}
	s.key, s.roomID = key, rm.ID.String()
	s.publishURL = Expand(r.Config.PublishURL, key, s.idx)
	return nil
}

// setupViewers starts the stream's room (it is publishing now), reads its HLS URL
// and logs in one token per viewer.
func (r *Runner) setupViewers(ctx context.Context, s *streamRun) ([]string, error) {
	rm, err := r.api.startRoom(ctx, json.Number(s.roomID))
	if err != nil {
		return nil, err
	}
	hls := rm.hlsURL()
	urls := make([]string, 0, r.Config.Viewers)
	for range r.Config.Viewers {
		tok, err := r.api.viewerToken(ctx, r.viewerMember())
		if err != nil {
			return nil, err
		}
		u, err := playURL(hls, tok)
		if err != nil {
			return nil, err
		}
		urls = append(urls, u)
	}
	s.viewURL = redactURL(hls, "")
	return urls, nil
}
