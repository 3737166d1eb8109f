#ifndef PLY_CNCURSES_SHIM_H
#define PLY_CNCURSES_SHIM_H

#define _XOPEN_SOURCE_EXTENDED 1
#include <locale.h>
#include <ncursesw/curses.h>

// Macros and globals that Swift cannot import, or that Swift 6 refuses as not concurrency-safe.
static inline WINDOW *ply_stdscr(void) { return stdscr; }
static inline int ply_lines(void) { return LINES; }
static inline int ply_cols(void) { return COLS; }
static inline attr_t ply_a_bold(void) { return A_BOLD; }
static inline attr_t ply_a_reverse(void) { return A_REVERSE; }
static inline attr_t ply_a_dim(void) { return A_DIM; }
static inline attr_t ply_a_underline(void) { return A_UNDERLINE; }
static inline int ply_key_resize(void) { return KEY_RESIZE; }
static inline int ply_key_up(void) { return KEY_UP; }
static inline int ply_key_down(void) { return KEY_DOWN; }
static inline int ply_key_left(void) { return KEY_LEFT; }
static inline int ply_key_right(void) { return KEY_RIGHT; }
static inline int ply_key_enter(void) { return KEY_ENTER; }
static inline int ply_key_backspace(void) { return KEY_BACKSPACE; }
static inline int ply_key_home(void) { return KEY_HOME; }
static inline int ply_key_end(void) { return KEY_END; }
static inline int ply_err(void) { return ERR; }
static inline int ply_key_code_yes(void) { return KEY_CODE_YES; }
static inline int ply_attr_on(WINDOW *window, attr_t attributes) { return wattr_on(window, attributes, NULL); }
static inline int ply_attr_off(WINDOW *window, attr_t attributes) { return wattr_off(window, attributes, NULL); }
static inline attr_t ply_color_pair(short pair) { return COLOR_PAIR(pair); }

#endif
