package dev.gatun.cli;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * A PNG of attention heat maps: one panel per layer (rows) and head (columns), each a T × T grid whose
 * row i shows how the character at position i spreads its attention over the characters before it,
 * labelled with the characters along both sides.
 */
final class AttentionMaps {

    /** The largest sequence drawn: beyond it the labels are unreadable and the picture too large. */
    static final int MAX_LENGTH = 160;

    private AttentionMaps() {}

    /**
     * Draws the maps of {@code text} into {@code file}, atomically.
     *
     * @param file    the PNG to write
     * @param text    the characters the maps are of, one per position
     * @param weights per layer, per head, the T × T weights (rows: query positions)
     * @param title   the line above the panels
     * @throws IllegalArgumentException if the sizes do not match the text or T exceeds {@link #MAX_LENGTH}
     * @throws IOException              if the file cannot be written
     */
    static void write(Path file, String text, List<float[][][]> weights, String title) throws IOException {
        int t = text.length();
        if (t < 1 || t > MAX_LENGTH) {
            throw new IllegalArgumentException("an attention map of " + t + " characters; 1 to " + MAX_LENGTH
                    + " can be drawn");
        }
        int layers = weights.size();
        int heads = layers == 0 ? 0 : weights.get(0).length;
        for (float[][][] layer : weights) {
            if (layer.length != heads) {
                throw new IllegalArgumentException("every layer needs " + heads + " heads, got " + layer.length);
            }
            for (float[][] head : layer) {
                if (head.length != t || head[0].length != t) {
                    throw new IllegalArgumentException("each map must be " + t + " × " + t + " for " + t
                            + " characters, got " + head.length + " × " + head[0].length);
                }
            }
        }
        if (layers == 0 || heads == 0) {
            throw new IllegalArgumentException("no attention maps to draw");
        }
        System.setProperty("java.awt.headless", "true");
        int cell = Math.max(6, Math.min(16, 400 / t));
        int label = 14;
        int panelTitle = 18;
        int gap = 16;
        int panel = t * cell;
        int panelW = label + panel + gap;
        int panelH = panelTitle + label + panel + gap;
        int top = 40;
        int legend = 30;
        int width = gap + heads * panelW;
        int height = top + layers * panelH + legend;
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, height);
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
            g.drawString(title, gap, 24);
            Font small = new Font(Font.MONOSPACED, Font.PLAIN, Math.min(12, cell));
            Font heading = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
            for (int l = 0; l < layers; l++) {
                for (int h = 0; h < heads; h++) {
                    int x0 = gap + h * panelW;
                    int y0 = top + l * panelH;
                    g.setColor(Color.BLACK);
                    g.setFont(heading);
                    g.drawString(String.format(Locale.ROOT, "layer %d, head %d", l + 1, h + 1), x0 + label, y0 + 12);
                    int gx = x0 + label;
                    int gy = y0 + panelTitle + label;
                    float[][] map = weights.get(l)[h];
                    for (int i = 0; i < t; i++) {
                        for (int j = 0; j < t; j++) {
                            g.setColor(shade(map[i][j]));
                            g.fillRect(gx + j * cell, gy + i * cell, cell, cell);
                        }
                    }
                    g.setColor(Color.GRAY);
                    g.setStroke(new BasicStroke(1));
                    g.drawRect(gx, gy, panel, panel);
                    g.setColor(Color.BLACK);
                    g.setFont(small);
                    FontMetrics fm = g.getFontMetrics();
                    for (int i = 0; i < t; i++) {
                        String c = shown(text.charAt(i));
                        int w = fm.stringWidth(c);
                        g.drawString(c, gx - w - 2, gy + i * cell + (cell + fm.getAscent()) / 2 - 1);   // queries
                        g.drawString(c, gx + i * cell + (cell - w) / 2, gy - 3);                       // keys
                    }
                }
            }
            g.setFont(heading);
            g.setColor(Color.BLACK);
            int ly = height - legend + 8;
            g.drawString("row: the character attending; column: the character attended to;"
                    + " weight 0", gap, ly + 12);
            int lx = gap + g.getFontMetrics().stringWidth("row: the character attending; column: the character"
                    + " attended to; weight 0") + 6;
            for (int k = 0; k <= 100; k++) {
                g.setColor(shade(k / 100f));
                g.fillRect(lx + k, ly, 1, 14);
            }
            g.setColor(Color.BLACK);
            g.drawString("1   (␣ a space, ↵ a new line)", lx + 106, ly + 12);
        } finally {
            g.dispose();
        }
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Path tmp = Files.createTempFile(parent, ".attention", ".png");
        try {
            if (!ImageIO.write(image, "png", tmp.toFile())) {
                throw new IOException("no PNG writer available");
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** White at 0 to dark blue at 1 (the square root, so that small weights still show). */
    private static Color shade(float w) {
        float v = (float) Math.sqrt(Math.max(0f, Math.min(1f, Float.isNaN(w) ? 0f : w)));
        return new Color(Math.round(255 * (1 - 0.92f * v)), Math.round(255 * (1 - 0.75f * v)),
                Math.round(255 * (1 - 0.35f * v)));
    }

    private static String shown(char c) {
        return switch (c) {
            case ' ' -> "␣";
            case '\n' -> "↵";
            case '\t' -> "⇥";
            default -> String.valueOf(c);
        };
    }
}
