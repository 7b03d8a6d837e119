using SlmStudio.Core.Inference;

namespace SlmStudio.Core.Tests.Inference;

public class PrintableTextTests
{
    [Fact]
    public void Drops_what_no_font_draws_and_keeps_line_breaks_accents_and_emoji()
    {
        Assert.Equal("Full-time employees get 26 days", PrintableText.Of("Full-time employees get 26 days"));
        // An invalid byte sequence, C0 and C1 control codes, private use, an unassigned code point and a lone surrogate.
        Assert.Equal("abcdef", PrintableText.Of("a\uFFFDb\u0001c\u0085d\uE000e\u0378\uD800f"));
        Assert.Equal("Café\n\tnaïve 🎉 日本", PrintableText.Of("Café\n\tnaïve 🎉 日本"));
        // An enclosing keycap mark (drawn as a box round the letter) and a cuneiform sign from the supplementary planes.
        Assert.Equal("but", PrintableText.Of("bu\u20DEt\U00012000"));
    }
}
