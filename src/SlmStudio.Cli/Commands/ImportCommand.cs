using System.CommandLine;
using System.Globalization;
using SlmStudio.Core.Library;
using static SlmStudio.Cli.CliOptions;

namespace SlmStudio.Cli.Commands;

public sealed class ImportCommand : SlmCommand
{
    private readonly Argument<string?> _source = OptionalArgument("folder | zip", "a Hugging Face model folder (config.json, safetensors weights, tokenizer.json), or a zip of one");
    private readonly Option<string?> _name = Text("--name", "N", "the name in the library (default: the folder's or zip's name)");
    private readonly Option<string?> _library = Text("--library", "folder", $"the base model library (default {BaseModelLibrary.DefaultFolder}/ in the current folder)");

    public ImportCommand() : base("import", "Add a Hugging Face base model (Llama, Qwen2, Mistral, Phi-3, Phi-2) to the base model library.", $"""
        Checks config.json (architecture and features), every weight tensor (model.safetensors, or shards listed in
        model.safetensors.index.json; float32, float16 or bfloat16) and tokenizer.json, then copies the model's files
        into <library>/<name>/ with {BaseModelLibrary.EntryFile} (architecture, parameters, context length, licence from
        README.md, size, SHA-256 of the weights). A model that cannot be used is refused with the reason and nothing is
        left in the library. Exit codes: 0 imported, 1 refused (the message says why), 2 wrong arguments.
        """)
    {
        Arguments.Add(_source);
        Options.Add(_name);
        Options.Add(_library);
    }

    protected override Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var source = parsed.GetValue(_source) ?? throw new UsageException("Give the model folder or zip to import.");
        var library = new BaseModelLibrary(parsed.GetValue(_library) ?? BaseModelLibrary.DefaultFolder);
        var entry = library.Import(source, parsed.GetValue(_name), new ConsoleProgress(), cancellationToken);
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"name:           {entry.Name}"));
        Console.WriteLine(string.Create(inv, $"architecture:   {entry.Architecture} ({entry.ModelType}), weights {entry.WeightsType}"));
        Console.WriteLine(string.Create(inv, $"parameters:     {entry.ParameterCount:N0}"));
        Console.WriteLine(string.Create(inv, $"context length: {entry.ContextLength:N0} tokens"));
        Console.WriteLine($"licence:        {entry.Licence ?? "not stated (no license in README.md)"}");
        Console.WriteLine($"chat format:    {entry.ChatFormat ?? (entry.HasChatTemplate ? "template not recognised (plain-text fine-tuning only)" : "none (no chat_template)")}");
        Console.WriteLine(string.Create(inv, $"disk size:      {entry.DiskBytes:N0} bytes"));
        Console.WriteLine($"weights sha256: {entry.WeightsSha256}");
        Console.WriteLine($"folder:         {library.PathOf(entry.Name)}");
        return Task.FromResult(0);
    }

    private sealed class ConsoleProgress : IProgress<string>
    {
        public void Report(string value) => Console.WriteLine(value);
    }
}
