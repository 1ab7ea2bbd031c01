// The frei0r 1.2 API (Debian: frei0r-plugins-dev), for the plugin's exported functions.
#include <frei0r.h>
