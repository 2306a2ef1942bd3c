package api

// pageJSON is Spring's Page shape of the seeds.
type pageJSON[T any] struct {
	Content          []T          `json:"content"`
	Pageable         pageableJSON `json:"pageable"`
	Last             bool         `json:"last"`
	TotalPages       int          `json:"totalPages"`
	TotalElements    int          `json:"totalElements"`
	Size             int          `json:"size"`
	Number           int          `json:"number"`
	Sort             sortJSON     `json:"sort"`
	First            bool         `json:"first"`
	NumberOfElements int          `json:"numberOfElements"`
	Empty            bool         `json:"empty"`
}

// newPage builds a page of content for page number (0-based) of size, out of total.
func newPage[T any](content []T, page, size, total int) pageJSON[T] {
	if content == nil {
		content = []T{}
	}
	pages := (total + size - 1) / size
	s := sortJSON{Sorted: true}
	return pageJSON[T]{
		Content:  content,
		Pageable: pageableJSON{Sort: s, Offset: page * size, PageNumber: page, PageSize: size, Paged: true},
		Last:     page >= pages-1, TotalPages: pages, TotalElements: total, Size: size, Number: page,
		Sort: s, First: page == 0, NumberOfElements: len(content), Empty: len(content) == 0,
	}
}

// sortJSON is Spring's Sort object.
type sortJSON struct {
	Empty    bool `json:"empty"`
	Sorted   bool `json:"sorted"`
	Unsorted bool `json:"unsorted"`
}

// pageableJSON is Spring's Pageable object.
type pageableJSON struct {
	Sort       sortJSON `json:"sort"`
	Offset     int      `json:"offset"`
	PageNumber int      `json:"pageNumber"`
	PageSize   int      `json:"pageSize"`
	Paged      bool     `json:"paged"`
	Unpaged    bool     `json:"unpaged"`
}
