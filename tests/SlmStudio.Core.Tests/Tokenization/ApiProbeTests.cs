namespace SlmStudio.Core.Tests.Tokenization;

public class ApiProbeTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void Probe()
    {
        foreach (var m in typeof(Tokenizers.DotNet.Tokenizer).GetMembers())
            output.WriteLine(m.ToString());
    }
}
