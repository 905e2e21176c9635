// phi_data.hpp — finds and loads the PHI lexicon (phi.mglex) for the program.
//
// Search order: an explicit file (--lexicon FILE), then $MEDGATE_LEXICONS_DIR,
// then <program dir>/../share/medgate/lexicons (an installed medgate), then the
// build tree's lexicons/ folder (a developer's build). The lexicon comes from
// npm and Debian packages converted by the build (lexicons/README.md); it is
// never part of the source tree.
#pragma once

#include <string>

#include "medgate/phi/lexicon.hpp"
#include "medgate/result.hpp"

namespace medgate::cli {

/// Loads the lexicon from `file`, or, when empty, from the default search. The error lists where it looked
/// and how to make the file.
result<phi::lexicon> load_lexicon(std::string const& file = {});

/// The folder holding phi.mglex: `directory` if given (it must hold the file), else the first folder of the
/// default search that does. The error lists where it looked and how to make the file.
result<std::string> find_lexicon_dir(std::string const& directory = {});

}  // namespace medgate::cli
