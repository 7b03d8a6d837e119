using System.Text;

namespace SlmStudio.Core.Tests.Instruction;

/// <summary>Small question/answer sets with a fixed pattern a tiny model can pick up in a few dozen steps.</summary>
internal static class InstructionTestData
{
    public static readonly string[] Colours = ["red", "blue", "green", "yellow", "white", "black"];
    public static readonly string[] Things = ["door", "car", "cup", "hat", "box", "bike"];

    /// <summary>"What colour is the Tom's door?" -> "Tom's door is red." for <paramref name="count"/> pairs (CSV with a header).</summary>
    public static string Csv(int count)
    {
        var csv = new StringBuilder("question,answer\n");
        foreach (var (q, a) in Pairs(count)) csv.Append('"').Append(q).Append("\",\"").Append(a).Append("\"\n");
        return csv.ToString();
    }

    public static IEnumerable<(string Question, string Answer)> Pairs(int count)
    {
        string[] names = ["Tom", "Ann", "Bob", "Eve", "Sam"];
        for (int i = 0; i < count; i++)
        {
            var name = names[i % names.Length];
            var thing = Things[i / names.Length % Things.Length];
            var colour = Colours[(i * 7 + 3) % Colours.Length];
            yield return ($"What colour is {name}'s {thing}?", $"{name}'s {thing} is {colour}.");
        }
    }
}
