"""Every route the gateway serves: operations (health, metrics), the pages, the acknowledgement and enrolment
links, and the REST API (`api/`)."""
