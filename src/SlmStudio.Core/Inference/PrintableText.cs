using System.Globalization;
using System.Text;

namespace SlmStudio.Core.Inference;

/// <summary>
/// Generated text as people may see it. A small or barely trained model can emit byte sequences that are not valid
/// UTF-8 ("�"), control codes, or code points no font draws (private use, unassigned, stray surrogates): all shown as
/// boxes or nothing, so they are dropped. So are enclosing marks (they draw a box or circle around the letter before
/// them) and letters beyond the first 65,536 code points (ancient and rare scripts that common fonts lack; a model
/// that strings random bytes together lands there); emoji and other symbols there stay. Line breaks and tabs stay.
/// </summary>
public static class PrintableText
{
    public static string Of(string text)
    {
        if (text.All(c => c < 0x7F && (c >= ' ' || c is '\n' or '\t' or '\r'))) return text;
        var kept = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
            if (Shows(rune)) kept.Append(rune.ToString());
        return kept.ToString();
    }

    private static bool Shows(Rune rune)
    {
        if (rune.Value is '\n' or '\t' or '\r') return true;
        if (rune == Rune.ReplacementChar) return false;
        var category = Rune.GetUnicodeCategory(rune);
        if (!rune.IsBmp && category is not UnicodeCategory.OtherSymbol) return false;
        return category is not (UnicodeCategory.Control or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
            or UnicodeCategory.OtherNotAssigned or UnicodeCategory.EnclosingMark);
    }
}
