"""Population database (Cơ sở dữ liệu quốc gia về dân cư): the signed SOAP client, its simulator, and the
rules that compare what an applicant declared with the register's record.

    model.py      what the gateway asks and gets, and the PopulationRegister protocol
    errors.py     the adapter's error tree
    settings.py   IdentityConfig (built by the gateway from its MOTCUA_* settings)
    signing.py    XML signatures of requests and answers, pinned certificates
    messages.py   pure build/parse of the SOAP payloads
    client.py     SoapPopulationRegister: zeep over httpx, all the I/O
    simulator.py  the register on a real port, with a synthetic population and fault modes
    rules.py      ID number, CMND, name and birth-data matching
    keys.py       demo keys and self-signed certificates
    vendor/       the WSDL and signed sample messages
"""
