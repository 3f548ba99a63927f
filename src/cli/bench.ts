export async function benchMain(_argv: string[]): Promise<number> { return 0; }
